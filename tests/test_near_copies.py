"""Near-copies found by what they are, not by how alike a network finds them: generated edits of
one picture are flagged with their reason, distinct pictures of one look are not. Random weights at
32 px tell pictures apart no better than chance, so here every pair is a candidate (CANDIDATE
below any cosine, NEAREST every image) and the pixels alone decide; the real network's part is in
test_e2e_audit.py."""

import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from audit import find, pixels
from audit.config import AuditConfig
from bench.experiments.near_copies import EDITS
from tests.conftest import generated_cache
from workflow.paths import Paths

CLASSES = {"red": ((150, 40, 40), (230, 120, 90)), "blue": ((40, 50, 140), (120, 160, 230))}
LOOKS = 6  # distinct pictures per class, of the class's colours and shapes


def picture(colours, seed: int) -> Image.Image:
    """Ellipses of the class's colours on its background, placed at random: one look, many pictures."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (96, 80), colours[0])
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x, y, w, h = rng.integers(0, 80), rng.integers(0, 64), rng.integers(12, 36), rng.integers(12, 36)
        draw.ellipse((x, y, x + w, y + h), fill=colours[1], outline=(20, 20, 20), width=2)
    return image


@pytest.fixture(scope="module")
def copies(tmp_path_factory, random_weights, engine_dir):
    """A cache of each class's distinct pictures, every edit of the first, and a byte copy of the second."""
    data, out = tmp_path_factory.mktemp("looks"), tmp_path_factory.mktemp("looks_out")
    for label, (name, colours) in enumerate(CLASSES.items()):
        (data / name).mkdir()
        for i in range(LOOKS):
            picture(colours, 100 * label + i).save(data / name / f"{name}{i}.png")
        original = Image.open(data / name / f"{name}0.png")
        for edit, apply in EDITS.items():
            apply(original).convert("RGB").save(data / name / f"{name}0.{edit}.png")
        shutil.copy(data / name / f"{name}1.png", data / name / f"{name}1.copy.png")
    path = generated_cache(data, out, random_weights, engine_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(find, "CANDIDATE", -1.0)
        patch.setattr(find, "NEAREST", 1000)
        yield out, find.near_duplicates(path, AuditConfig(out=str(out), jobs=1))


@pytest.fixture
def every_pair(monkeypatch):
    monkeypatch.setattr(find, "CANDIDATE", -1.0)
    monkeypatch.setattr(find, "NEAREST", 1000)


def picture_of(item: str) -> str:
    """The generated picture an image is made from: red0 for red0.png and red0.jpeg40.png."""
    return item.rsplit("/", 1)[-1].split(".")[0]


def test_every_edit_is_flagged_with_its_reason(copies):
    _, found = copies
    file = lambda item: item.rsplit("/", 1)[-1]  # noqa: E731
    reasons = {frozenset((file(a), file(b))): r for a, b, r in found[["id", "paired_id", "reason"]].values}
    for name in CLASSES:
        for edit in EDITS:
            assert reasons.get(frozenset((f"{name}0.png", f"{name}0.{edit}.png"))) == "pixel match", (name, edit)
        assert reasons.get(frozenset((f"{name}1.png", f"{name}1.copy.png"))) == "byte copy"
    assert (found["pixel_score"].dropna() >= find.PIXEL).all()


def test_distinct_pictures_of_one_look_are_not_flagged_unless_similarity_says(copies, every_pair):
    out, found = copies
    data = find.pooled(Paths(out).cache)
    assert len(found) == len(CLASSES) * (len(EDITS) * (len(EDITS) + 1) // 2 + 1)  # each picture's copies, no more
    assert all(picture_of(a) == picture_of(b) for a, b in zip(found["id"], found["paired_id"], strict=True))
    similarity = 0.6  # the override: pairs this alike to the network count, whatever their pixels
    overridden = find.near_duplicates(Paths(out).cache, AuditConfig(out=str(out), jobs=1, similarity=similarity))
    extra = overridden[overridden["reason"] == "feature similarity"]
    assert (overridden["reason"] != "feature similarity").sum() == len(found)  # the copies, as they were
    alike = find.feature_pairs(data, similarity, jobs=1)
    assert len(extra) == len(alike.first) - (found["score"] >= similarity).sum() > 0  # every other pair as alike
    assert any(picture_of(a) != picture_of(b) for a, b in zip(extra["id"], extra["paired_id"], strict=True))


def test_the_pixels_are_read_once_and_kept_beside_the_cache(copies, every_pair, monkeypatch):
    out, found = copies
    assert Paths(out).pixels.is_file()
    monkeypatch.setattr(pixels.Thumbnails, "image", lambda self, item: pytest.fail(f"{item} decoded again"))
    again = find.near_duplicates(Paths(out).cache, AuditConfig(out=str(out), jobs=1))
    assert again.fillna(-1).equals(found.fillna(-1))
