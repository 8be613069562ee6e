"""`make audit` on the real photos: the known label error and the known duplicate are found."""

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
