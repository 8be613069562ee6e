"""Shards to cache: the assembly `make features` runs, on synthetic rows."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.context import Bench
from extract.config import ExtractConfig
from extract.network import backbone
from extract.reading.sources import Split


def rows(bench: Bench) -> Iterator[tuple]:
    yield from assembly_rows(20_000 if bench.quick else 200_000)


def assembly_rows(rows: int) -> list[tuple]:
    """Shards to cache: `rows` synthetic rows × 1280 float32 in shards of 1,024, through the same
    assembly `make features` runs (checksums included), in MB/s of features written."""
    from cache.shards import Shard, ShardStore
    from extract.reading.sources import Source
    from extract.running import extraction, shard_work

    rng = np.random.default_rng(0)
    config = ExtractConfig(data="-", layers="last")  # the rows below are the last layer's width
    ids = [f"train/{i}.jpg" for i in range(rows)]
    split = Split("train", ids, np.zeros(rows, np.int64))
    with tempfile.TemporaryDirectory() as folder:
        store = ShardStore(Path(folder, "parts"), "bench")
        block = rng.random((config.shard_size, 1, backbone.FEATURE_DIM), dtype=np.float32)
        for index in shard_work.all_shards(split, config.shard_size):
            count = len(shard_work.shard_range(split, index, config.shard_size))
            store.write("train", index, Shard(np.arange(count) + index * config.shard_size, block[:count], [], 0.0))
        attrs = {"fingerprint": "bench", "class_names": ["a"], "versions": {}}
        started = time.perf_counter()
        extraction.assemble(
            Path(folder, "features.h5"), attrs, Source("-", ["a"], [split], ""), [split], store, None, config
        )
        seconds = time.perf_counter() - started
    rate = rows * backbone.FEATURE_DIM * 4 / 1e6 / seconds
    return [
        (
            f"assembly, {rows} rows × 1280 float32 from shards",
            "–",
            f"{rate:.0f} MB/s",
            f"{seconds:.1f} s; 10 M rows (51 GB) would take {51e3 / rate / 60:.0f} min",
        )
    ]
