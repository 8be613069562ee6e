"""Issue 35's faster pipeline keeps what was there: a shard write that fails (now on a thread of its
own) stops the run, and the bench's zero-cost engine builds a cache of the right widths."""

from unittest import mock

import pytest

import cache
from bench.pipeline_speed import ZeroEngine, ceiling
from cache.shards import ShardStore
from extract.network import engines
from extract.running import build
from tests.conftest import small_shards, write_class_folders


def folders(root):
    write_class_folders(root / "train", ["a", "b"], 8)
    write_class_folders(root / "validation", ["a", "b"], 4, seed=1)
    return root


def test_the_ceiling_is_decode_and_forward_back_to_back():
    assert ceiling(300.0, 600.0) == pytest.approx(200.0)


def test_a_failed_shard_write_stops_the_run_with_its_error(tmp_path, random_weights, engine_dir):
    data = folders(tmp_path / "data")
    config = small_shards(data, tmp_path / "out", random_weights, engine_dir)
    zero = ZeroEngine(config.source.width)
    with (
        mock.patch.object(engines, "make_engine", lambda *_, **__: zero),
        mock.patch.object(ShardStore, "write", side_effect=OSError("disk full")),
        pytest.raises(OSError, match="disk full"),
    ):
        build.run(config, progress=False)
    assert not config.paths.cache.exists()


def test_the_zero_cost_engine_builds_a_cache_of_zeros_of_every_width(tmp_path, random_weights, engine_dir):
    data = folders(tmp_path / "data")
    config = small_shards(data, tmp_path / "out", random_weights, engine_dir)
    with mock.patch.object(engines, "make_engine", lambda *_, **__: ZeroEngine(config.source.width)):
        summary = build.run(config, progress=False)
    splits = [cache.read_split(summary.path, split.split) for split in summary.splits]
    assert sum(len(split.ids) for split in splits) == 24
    assert all(split.features.shape[1] == config.source.width and not split.features.any() for split in splits)
