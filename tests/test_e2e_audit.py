"""`make audit` on the real photos: the known label error and the known duplicate are found."""

import numpy as np

from audit import find
from audit.config import AuditConfig


def test_the_audit_finds_the_known_problems_of_the_real_photos(shared_cache):
    found = find.audit(shared_cache, AuditConfig(out=str(shared_cache.parent)))
    labels = found[found["issue"] == "label"]
    top = list(labels["id"][:10])
    assert "train/cats/cat.724.jpg" in top, top  # a dog with a kitten, labelled cat
    assert labels.set_index("id").loc["train/cats/cat.724.jpg", "suggested_label"] == "dogs"
    duplicates = found[found["issue"] == "duplicate"]
    pairs = {frozenset(pair) for pair in zip(duplicates["id"], duplicates["paired_id"], strict=True)}
    assert frozenset({"train/dogs/dog.180.jpg", "train/dogs/dog.74.jpg"}) in pairs  # one photo, twice
    assert (found["issue"] == "leakage").sum() == 0  # the shared photos hold no copy across splits
    assert 0 < (found["issue"] == "outlier").sum() <= 0.011 * 3000


def test_the_photos_known_copy_is_a_pixel_match(shared_cache):
    found = find.near_duplicates(shared_cache, AuditConfig(out=str(shared_cache.parent)))
    reasons = {frozenset(pair): reason for *pair, reason in found[["id", "paired_id", "reason"]].values}
    assert reasons[frozenset({"train/dogs/dog.180.jpg", "train/dogs/dog.74.jpg"})] == "pixel match"


def test_blood_cells_alike_to_the_network_are_not_copies(tmp_path_factory, engine_dir):
    """pbc_sample: every stained cell looks alike to an ImageNet network (half of the scored images
    once had a train image at cosine >= 0.9), yet no two of its images are the same picture."""
    from extract.config import ExtractConfig
    from extract.running import build
    from tests.conftest import SHARED, SHARED_WEIGHTS, require_shared

    require_shared()
    out = tmp_path_factory.mktemp("pbc")
    settings = dict(image_size=96, limit=100, layers="last", engine="tflite", engine_dir=str(engine_dir))
    config = ExtractConfig(
        data=str(SHARED / "data" / "pbc_sample"), weights=str(SHARED_WEIGHTS), out=str(out), **settings
    )
    path = build.run(config, progress=False).path
    data = find.pooled(path)
    ids = np.asarray(data.ids)
    train, scored = set(ids[data.splits == "train"]), set(ids[data.splits != "train"])

    def with_a_train_copy(first, second) -> set[str]:
        pairs = list(zip(first, second, strict=True))
        return {b for a, b in pairs if a in train and b in scored} | {a for a, b in pairs if b in train and a in scored}

    alike = find.feature_pairs(data, 0.9)
    assert len(with_a_train_copy(ids[alike.first], ids[alike.second])) > 0.05 * len(scored)  # a fixed cosine: > 5%
    found = find.near_duplicates(path, AuditConfig(out=str(out)))
    assert len(with_a_train_copy(found["id"], found["paired_id"])) < 0.05 * len(scored)
