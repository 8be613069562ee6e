import os

import h5py
import numpy as np
import pytest

import cache
from cache.lock import BusyError, exclusive
from cache.shards import Shard, ShardStore
from cache.store import FORMAT_VERSION
from workflow.paths import Paths

ATTRS = {"fingerprint": "abc", "class_names": ["a", "b"], "versions": {"numpy": np.__version__}}


def write_cache(path, rows=5, dim=4, dtype="float32"):
    writer = cache.CacheWriter(path, ATTRS, {"out_relu": dim}, dtype)
    writer.add_split("train")
    features = np.arange(rows * dim, dtype=np.float32).reshape(rows, dim)
    writer.append("train", features[:3], [0, 1, 0], ["x0", "x1", "x2"], ["bad.jpg"], ["empty file"])
    writer.append("train", features[3:], [1] * (rows - 3), [f"x{i}" for i in range(3, rows)], [], [])
    writer.set_split_attrs("train", n_inputs=rows + 1, seconds=1.5)
    writer.add_split("validation")
    writer.append("validation", features[:2], [1, 0], ["v0", "v1"], [], [])
    return writer, features


def test_round_trip(tmp_path):
    path = tmp_path / "features.h5"
    writer, features = write_cache(path)
    writer.close()
    X, y = cache.load(path, "train")
    np.testing.assert_array_equal(X, features)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 1])
    assert cache.read_split(path, "train").ids == ["x0", "x1", "x2", "x3", "x4"]
    assert cache.skipped(path, "train") == [("bad.jpg", "empty file")]
    assert cache.splits(path) == ["train", "validation"]
    meta = cache.info(path)
    assert meta["class_names"] == ["a", "b"] and meta["fingerprint"] == "abc" and meta["complete"]
    assert meta["splits"]["train"] == {"rows": 5, "skipped": 1, "n_inputs": 6, "seconds": 1.5}


def test_float16_features(tmp_path):
    writer, features = write_cache(tmp_path / "f.h5", dtype="float16")
    writer.close()
    X, _ = cache.load(tmp_path / "f.h5", "train")
    assert X.dtype == np.float16
    np.testing.assert_allclose(X, features, rtol=1e-3)


def test_nothing_appears_until_complete(tmp_path):
    path = tmp_path / "features.h5"
    writer, _ = write_cache(path)
    assert not path.exists()
    writer.abort()
    assert not path.exists() and not list(tmp_path.iterdir())


def test_incomplete_and_missing_caches_are_refused(tmp_path):
    with pytest.raises(cache.CacheError, match="make features"):
        cache.load(tmp_path / "none.h5", "train")
    with h5py.File(tmp_path / "half.h5", "w") as handle:
        handle.attrs["complete"] = False
    with pytest.raises(cache.CacheError, match="interrupted"):
        cache.load(tmp_path / "half.h5", "train")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(cache.CacheError, match="not a readable"):
        cache.info(tmp_path / "junk.h5")


def test_unknown_split_is_named(tmp_path):
    writer, _ = write_cache(tmp_path / "f.h5")
    writer.close()
    with pytest.raises(cache.CacheError, match="no split 'test'"):
        cache.load(tmp_path / "f.h5", "test")


def shard(n):
    return Shard(np.arange(n), np.ones((n, 4), np.float32), [], 0.1)


def test_shards_resume_only_with_the_same_fingerprint(tmp_path):
    store = ShardStore(tmp_path / "parts", "fp1")
    store.write("train", 0, shard(3))
    store.write("train", 1, shard(2))
    assert ShardStore(tmp_path / "parts", "fp1").done("train") == 2
    assert ShardStore(tmp_path / "parts", "fp1").read("train", 1).positions.tolist() == [0, 1]
    assert ShardStore(tmp_path / "parts", "fp2").done("train") == 0


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with cache.atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def damage(path, offset_fraction=0.5, length=4096):
    """Overwrite bytes inside a file, as a bad disk or a stray write would (not a truncation)."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * offset_fraction)
    data[start : start + length] = bytes(length)
    path.write_bytes(bytes(data))


def test_zeroed_bytes_inside_are_caught_and_become_one_cache_error(tmp_path):
    path = tmp_path / "features.h5"
    writer = cache.CacheWriter(path, ATTRS, {"out_relu": 1280}, "float32")
    writer.add_split("train")
    rng = np.random.default_rng(0)
    writer.append(
        "train", rng.random((3000, 1280), dtype=np.float32), np.arange(3000) % 2, [f"x{i}" for i in range(3000)], [], []
    )
    writer.close()
    cache.verify(path)  # whole: passes
    damage(path)  # zeroes 4 KB in the middle of the features
    with pytest.raises(cache.CacheError, match="damaged") as raised:
        cache.verify(path)
    assert "\n" not in str(raised.value) and "make features" in str(raised.value)
    with pytest.raises(cache.CacheError, match="damaged"):
        cache.load(path, "train")  # the chunk's fletcher32 fails on a plain read too


def test_damaged_metadata_and_old_formats_are_one_cache_error(tmp_path):
    writer, _ = write_cache(tmp_path / "f.h5")
    writer.close()
    damage(tmp_path / "f.h5", offset_fraction=0.0, length=600)  # the superblock and root headers
    with pytest.raises(cache.CacheError, match="not a readable feature cache, or is damaged"):
        cache.info(tmp_path / "f.h5")
    writer, _ = write_cache(tmp_path / "old.h5")
    writer.close()
    with h5py.File(tmp_path / "old.h5", "a") as handle:
        handle.attrs["format_version"] = 5  # one features dataset per split: rebuilt with feature blocks
    with pytest.raises(cache.CacheError, match=f"format 5, not {FORMAT_VERSION}: run `make features`") as raised:
        cache.info(tmp_path / "old.h5")
    assert "\n" not in str(raised.value)


BLOCKS = {"block_2_add": 3, "block_16_project_BN": 5, "out_relu": 2}  # not in name order: the record's order rules


def test_feature_blocks_are_read_together_or_apart_with_their_views(tmp_path):
    path = tmp_path / "features.h5"
    writer = cache.CacheWriter(path, ATTRS, BLOCKS, "float32", views=3)
    writer.add_split("train")
    rng = np.random.default_rng(0)
    features, views = rng.random((7, 10), dtype=np.float32), rng.random((7, 2, 10), dtype=np.float32)
    writer.append("train", features, np.arange(7) % 2, [f"x{i}" for i in range(7)], [], [], views=views)
    writer.close()
    assert cache.info(path)["blocks"] == BLOCKS and list(cache.info(path)["blocks"]) == list(BLOCKS)
    with h5py.File(path) as handle:
        assert handle["train/features/block_16_project_BN"].shape == (7, 5)
        assert handle["train/views/out_relu"].shape == (7, 2, 2)
    cache.verify(path)  # every block carries its own checksum
    everything = np.concatenate([features[:, None], views], axis=1)
    np.testing.assert_array_equal(cache.load(path, "train")[0], features)
    np.testing.assert_array_equal(cache.read_split(path, "train", views=True).features, everything)
    apart = cache.read_split(path, "train", views=True, blocks=["out_relu", "block_2_add"]).features
    np.testing.assert_array_equal(apart, everything[..., [0, 1, 2, 8, 9]])  # the cache's order, not the caller's
    np.testing.assert_array_equal(
        cache.read_rows(path, "train", [5, 1], blocks=["block_16_project_BN"]), everything[[5, 1]][..., 3:8]
    )
    with cache.reading(path, "train") as rows:
        assert (rows.dim, rows.views, rows.widths) == (10, 3, BLOCKS)
    with pytest.raises(cache.CacheError, match="no feature block out_rlu; it has block_2_add, "):
        cache.load(path, "train", blocks=["out_rlu"])
    narrow = cache.CacheWriter(tmp_path / "x.h5", ATTRS, BLOCKS, "float32")
    narrow.add_split("train")
    with pytest.raises(ValueError, match="rows of 9 values, not the blocks' 10"):
        narrow.append("train", features[:, :9], [0] * 7, [f"x{i}" for i in range(7)], [], [])
    narrow.abort()


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".tmp-999999999-model.tflite"  # no such process
    stale.write_bytes(b"half a model")
    alive = tmp_path / f".tmp-{os.getppid()}-model.tflite"  # another writer still at work: kept
    alive.write_bytes(b"being written")
    cache.write_text(tmp_path / "model.tflite", "whole")
    assert not stale.exists() and alive.exists()
    assert (tmp_path / "model.tflite").read_text() == "whole"


def test_one_writer_per_folder(tmp_path):
    with exclusive(tmp_path / ".lock", "make features"):
        with pytest.raises(BusyError, match=rf"being written by make features \(pid {os.getpid()}"):
            with exclusive(tmp_path / ".lock", "make heads"):
                pass
    with exclusive(tmp_path / ".lock", "make heads"):  # released: free again
        pass


def test_a_stage_folder_is_replaced_as_one_set_or_not_at_all(tmp_path):
    paths = Paths(tmp_path)
    with cache.staged(paths, "heads") as staged:
        cache.write_text(staged.heads_metrics, "first")
        cache.write_text(staged.record("logreg"), "first record")
    assert paths.heads.is_symlink() and paths.heads_metrics.read_text() == "first"

    with pytest.raises(RuntimeError), cache.staged(paths, "heads") as staged:
        cache.write_text(staged.record("logreg"), "second record")
        raise RuntimeError("failed before metrics.json")
    assert paths.record("logreg").read_text() == "first record"  # the old set, whole
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".heads")] == [paths.heads.resolve().name]

    with cache.staged(paths, "heads") as staged:
        cache.write_text(staged.heads_metrics, "second")  # the record is carried over unchanged
    assert paths.heads_metrics.read_text() == "second" and paths.record("logreg").read_text() == "first record"
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".heads")]) == 1  # old versions removed


def test_a_plain_stage_folder_from_an_older_version_is_taken_over(tmp_path):
    paths = Paths(tmp_path)
    paths.heads.mkdir()
    paths.heads_metrics.write_text("old")
    paths.history("dense").write_text("kept")
    with cache.staged(paths, "heads") as staged:
        cache.write_text(staged.heads_metrics, "new")
    assert paths.heads.is_symlink()
    assert paths.heads_metrics.read_text() == "new" and paths.history("dense").read_text() == "kept"
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".heads")]) == 1
