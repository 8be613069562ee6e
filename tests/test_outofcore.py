"""Heads on caches larger than memory: the rows streamed a block at a time, and the heads trained
that way against the same heads trained in memory."""

import numpy as np
import pytest

import cache
from bench.synthetic import gaussian_cache
from classify import part as part_module
from classify import saved, train
from classify.config import HeadConfig
from classify.heads import network
from classify.linear import logreg_pipeline, streamed_logreg
from classify.part import SPAN, Loaded, Part, every_view
from classify.protocol import protocol_of, rows_of
from tests.mixing import assert_batched, assert_mixed, unmixed_parts

DIM = 16


def blob_cache(path, n_classes=2, rows=(700, 150, 150), **more):
    """Gaussian clusters of `DIM` features (`bench.synthetic.gaussian_cache`), `rows` per split."""
    return gaussian_cache(path, n_classes, dict(zip(("train", "validation", "test"), rows, strict=True)), DIM, **more)


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


def stream_of(kind: str, path) -> np.ndarray:
    """The labels one epoch of a training stream gives, in order: the Dense head's batches from rows
    in memory or streamed from the cache, or the shuffled blocks of `Part.blocks`."""
    part = Part.whole(path, "train")
    n_classes = len(cache.info(path)["class_names"])
    config = HeadConfig(seed=0)
    if kind == "blocks":
        return np.concatenate([labels for _, labels in part.blocks(seed=0)])
    batches = [
        labels.numpy() for _, labels in network.batches(part if kind == "streamed" else part.load(), config, n_classes)
    ]
    assert_batched(batches, len(part) * part.views, config.batch)
    return np.concatenate(batches).astype(int)


@pytest.mark.parametrize(
    "count, steps, left_out", [(1633, 51, 1), (1800, 56, 8), (63, 2, 0), (48, 2, 0), (20, 1, 0), (32, 1, 0)]
)
def test_a_last_batch_of_under_half_a_batch_is_left_out(count, steps, left_out):
    size, drop = network.training_batches(count, 32)
    assert size == min(32, count)
    assert network.steps_per_epoch(count, 32) == steps
    assert (count % size if drop else 0) == left_out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["streamed", "memory", "blocks"])
@pytest.mark.parametrize("n_classes, views", [(2, 1), (10, 1), (10, 8), (100, 1)])
def test_every_training_stream_mixes_its_classes_in_every_tenth_of_an_epoch(
    tmp_path, small_blocks, kind, n_classes, views
):
    """A few dozen blocks per epoch, as a cache far larger than memory gives: stored as extraction
    stores rows, every tenth of each stream holds every class in its share."""
    path = blob_cache(tmp_path / "features.h5", n_classes, rows=(6000, 10, 10), views=views)
    stream = stream_of(kind, path)
    per_image = 1 if kind == "blocks" else views  # blocks give images; the heads train on every view
    assert len(stream) == 6000 * per_image  # 6,000 and 48,000 rows: no last batch under half a batch
    assert_mixed(stream, n_classes, views=views if kind == "streamed" else 1)


@pytest.mark.slow  # many epochs of shuffles, to measure their uniformity
def test_rows_in_memory_come_in_a_uniform_random_order_so_any_row_may_be_left_out():
    """Each epoch's order a uniform permutation: the last partial batch, left out, is then any rows
    alike. Rows in memory are one block, already shuffled with the epoch's seed; shuffled again with
    the same seed, the order was that permutation applied twice, which keeps a row where it was
    twice as often (two per epoch, not one), so the last rows in memory were left out twice as often."""
    count = 40
    rows = Loaded(np.arange(count, dtype=np.float32)[:, None], np.arange(count) % 2, [str(i) for i in range(count)])
    stream = network.batches(rows, HeadConfig(batch=count, seed=0), 2)  # one batch: the whole epoch
    in_place = [np.sum(np.concatenate([x.numpy()[:, 0] for x, _ in stream]) == np.arange(count)) for _ in range(150)]
    assert np.mean(in_place) < 1.4  # uniform: 1 ± 0.08; the permutation applied twice: 2


def test_the_mixing_check_fails_a_stream_of_rows_stored_in_listing_order(tmp_path, small_blocks):
    """What the row order fixes: from each class's rows stored together, blocks of a few spans
    hold a few classes each, however they are shuffled."""
    path = blob_cache(tmp_path / "features.h5", 10, rows=(6000, 10, 10), listing=True)
    assert unmixed_parts(stream_of("streamed", path), 10)
    assert unmixed_parts(stream_of("blocks", path), 10)


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


@pytest.mark.slow
def test_heads_stream_above_memory_gb_without_reading_a_split_whole(tmp_path, small_blocks, monkeypatch, capsys):
    out = tmp_path / "out"
    blob_cache(out / "features.h5", rows=(1500, 300, 300))
    settings = {"out": str(out), "dense_recipe": "tutorial", "epochs": 15, "learning_rate": 1e-3, "jobs": 1, "seeds": 1}
    in_memory = train.run(HeadConfig(**settings))

    largest = []
    read = cache.SplitFile.read

    def recording(self, start, stop):
        largest.append(stop - start)
        return read(self, start, stop)

    monkeypatch.setattr(cache.SplitFile, "read", recording)
    monkeypatch.setattr(cache, "read_split", None)  # nothing may read a split whole
    capsys.readouterr()
    streamed = train.run(HeadConfig(**settings, memory_gb=0, search_rows=400), progress=True)
    shown = capsys.readouterr()  # streamed fits take minutes at scale: each shows its progress
    assert "logistic regression" in shown.err and "pass" in shown.err and "Epoch 1/15" in shown.out
    assert max(largest) <= 2 * SPAN  # one block at a time, never the 1,500 train rows
    assert streamed["logreg"]["streamed"] and streamed["dense"]["streamed"]
    assert not in_memory["logreg"]["streamed"] and streamed["logreg"]["search_images"] == 400
    model, _ = saved.load(out, "logreg")  # saved, and read back, as an in-memory fit is
    test = Part.whole(out / "features.h5", "test").load(views=False)
    accuracy = np.mean(model.predict_proba(test.features).argmax(axis=1) == test.labels)
    assert accuracy == pytest.approx(streamed["logreg"]["test"]["accuracy"])
    for head, tolerance in (("logreg", 0.01), ("dense", 0.03)):
        assert abs(streamed[head]["test"]["accuracy"] - in_memory[head]["test"]["accuracy"]) <= tolerance, head
        assert streamed[head]["test"]["accuracy"] > 0.8


def test_a_sample_keeps_every_class_in_its_share_and_at_least_a_folds_worth_of_each(tmp_path):
    path = blob_cache(tmp_path / "features.h5", 3, rows=(6020, 10, 10), sizes=[3000, 20, 3000])
    part = Part.whole(path, "train")
    sample = part.sample(200, seed=0, least=5)
    counts = np.bincount(sample.labels, minlength=3)
    assert counts[1] >= 5 and abs(counts[0] - counts[2]) <= 1 and 200 <= counts.sum() <= 201
    assert sample.sample(200, seed=0) is sample  # as many as asked: all of them
    rare = Part.whole(blob_cache(tmp_path / "rare.h5", 3, rows=(1003, 10, 10), sizes=[500, 3, 500]), "train")
    assert np.bincount(rare.sample(40, seed=1, least=5).labels)[1] == 3  # all of a class with fewer


@pytest.mark.slow
def test_streamed_logistic_regression_on_long_tailed_classes_runs_and_matches_the_in_memory_fit(tmp_path):
    """Power-law class sizes down to 10 images: the C search's sample holds every class (before,
    a sample that missed the rarest stopped the fit)."""
    out = tmp_path / "out"
    sizes = [1200, 400, 150, 60, 25, 10]
    blob_cache(out / "features.h5", len(sizes), rows=(sum(sizes), sum(sizes) // 2, sum(sizes) // 2), sizes=sizes)
    settings = {"out": str(out), "heads": ["logreg"], "seeds": 1, "jobs": 1}
    in_memory = train.run(HeadConfig(**settings))["logreg"]
    streamed = train.run(HeadConfig(**settings, memory_gb=0, search_rows=len(sizes) * 100))["logreg"]
    assert streamed["streamed"] and streamed["search_images"] <= 601
    assert streamed["test"]["accuracy"] == pytest.approx(in_memory["test"]["accuracy"], abs=0.01)


def test_rows_of_reads_what_parts_of_names(tmp_path):
    path = blob_cache(tmp_path / "features.h5", rows=(60, 20, 20))
    rows = rows_of(path, protocol_of(path, 0.1), views=True)
    assert rows.fit.features.shape == (60, 1, DIM) and rows.choose is rows.others["validation"]
