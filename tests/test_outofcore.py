"""Heads on caches larger than memory: the rows streamed a block at a time, and the heads trained
that way against the same heads trained in memory."""

import numpy as np
import pytest

import cache
from classify import part as part_module
from classify import saved, train
from classify.config import HeadConfig
from classify.linear import logreg_pipeline, streamed_logreg
from classify.part import SPAN, Part, every_view
from classify.protocol import protocol_of, rows_of

DIM = 16


def blob_cache(path, n_classes=2, rows=(700, 150, 150), views=1, seed=0):
    """Gaussian clusters of `DIM` features with `views` noisy copies per image, each class's images
    together (as a listing of class folders stores them)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.6, (n_classes, DIM))
    attrs = {"fingerprint": "fp", "dataset": "blobs", "class_names": [f"c{i}" for i in range(n_classes)]}
    writer = cache.CacheWriter(path, attrs, DIM, "float16", views)
    for split, count in zip(("train", "validation", "test"), rows, strict=True):
        labels = np.sort(rng.integers(0, n_classes, count))
        images = centres[labels] + rng.normal(0, 1, (count, DIM))
        extra = images[:, None] + rng.normal(0, 0.3, (count, views - 1, DIM)) if views > 1 else None
        writer.add_split(split)
        writer.append(split, images, labels, [f"{split}/{i}" for i in range(count)], [], [], views=extra)
        writer.set_split_attrs(split, n_inputs=count, seconds=1.0)
    writer.close()
    return path


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of two spans, so a few hundred rows make several blocks."""
    monkeypatch.setattr(part_module, "BLOCK_BYTES", 2 * SPAN * DIM * 4)


def test_blocks_give_each_row_once_in_order_or_mixed(tmp_path, small_blocks):
    path = blob_cache(tmp_path / "features.h5", views=3)
    whole = cache.read_split(path, "train", views=True)
    part = Part.whole(path, "train")
    keep = np.random.default_rng(1).random(len(part)) < 0.6
    some = part.subset(keep)
    blocks = list(some.blocks())
    assert len(blocks) > 1 and all(len(labels) <= 2 * SPAN for _, labels in blocks)
    features = np.concatenate([x for x, _ in blocks])
    np.testing.assert_array_equal(features, whole.features[keep].astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([y for _, y in blocks]), whole.labels[keep])

    mixed = list(some.blocks(seed=5))
    assert not np.array_equal(np.concatenate([y for _, y in mixed]), whole.labels[keep])
    rows = np.concatenate([x for x, _ in mixed])
    order = np.lexsort(rows[:, 0].T)  # the same rows, each once, in another order
    np.testing.assert_array_equal(rows[order], features[np.lexsort(features[:, 0].T)])
    # a shuffled block draws from several places: both classes, though each class's rows are together
    assert len(np.unique(mixed[0][1])) == 2
    assert some.ids() == [item for item, kept in zip(whole.ids, keep, strict=True) if kept]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_streamed_logistic_regression_is_the_in_memory_fit(tmp_path, small_blocks, n_classes):
    """The same objective minimised over passes: the same model to the solver's tolerance, whether
    started from a model fitted on a sample or not."""
    path = blob_cache(tmp_path / "features.h5", n_classes, views=2)
    part = Part.whole(path, "train")
    X, y, _ = every_view(part.load())
    in_memory = logreg_pipeline(0.05, 0).fit(X, y)
    sample = every_view(part.sample(120, 0).load())
    start = logreg_pipeline(0.05, 0).fit(*sample[:2])
    streamed, passes = streamed_logreg(part, 0.05, start, 0)
    test = cache.read_split(path, "test").features.astype(np.float32)
    np.testing.assert_allclose(streamed.predict_proba(test), in_memory.predict_proba(test), atol=2e-3)
    assert 2 <= passes < 200
    far_start, _ = streamed_logreg(part, 0.05, logreg_pipeline(1.0, 0).fit(X[::25], y[::25]), 0)
    np.testing.assert_allclose(far_start.predict_proba(test), in_memory.predict_proba(test), atol=2e-3)


def test_heads_stream_above_memory_gb_without_reading_a_split_whole(tmp_path, small_blocks, monkeypatch):
    out = tmp_path / "out"
    blob_cache(out / "features.h5", rows=(1500, 300, 300))
    settings = {"out": str(out), "epochs": 15, "learning_rate": 1e-3, "jobs": 1, "seeds": 1}
    in_memory = train.run(HeadConfig(**settings))

    largest = []
    read = cache.SplitFile.read

    def recording(self, start, stop):
        largest.append(stop - start)
        return read(self, start, stop)

    monkeypatch.setattr(cache.SplitFile, "read", recording)
    monkeypatch.setattr(cache, "read_split", None)  # nothing may read a split whole
    streamed = train.run(HeadConfig(**settings, memory_gb=0, search_rows=400))
    assert max(largest) <= 2 * SPAN  # one block at a time, never the 1,500 train rows
    assert streamed["logreg"]["streamed"] and streamed["dense"]["streamed"]
    assert not in_memory["logreg"]["streamed"] and streamed["logreg"]["search_images"] == 400
    model, _ = saved.load(out, "logreg")  # saved, and read back, as an in-memory fit is
    test = Part.whole(out / "features.h5", "test").load(views=False)
    accuracy = np.mean(model.predict(test.features) == test.labels)
    assert accuracy == pytest.approx(streamed["logreg"]["test"]["accuracy"])
    for head, tolerance in (("logreg", 0.01), ("dense", 0.03)):
        assert abs(streamed[head]["test"]["accuracy"] - in_memory[head]["test"]["accuracy"]) <= tolerance, head
        assert streamed[head]["test"]["accuracy"] > 0.8


def test_rows_of_reads_what_parts_of_names(tmp_path):
    path = blob_cache(tmp_path / "features.h5", rows=(60, 20, 20))
    rows = rows_of(path, protocol_of(path, 0.1), views=True)
    assert rows.fit.features.shape == (60, 1, DIM) and rows.choose is rows.others["validation"]
