"""The heads' fits and the cache's reads on synthetic features."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import cache
from bench.context import Bench
from bench.synthetic import gaussian_cache
from bench.timing import median_rate
from classify.config import HeadConfig
from classify.heads import network
from classify.heads.logreg import train_logreg
from classify.part import Loaded
from extract.network import backbone


def rows(bench: Bench) -> Iterator[tuple]:
    for n in (2000,) if bench.quick else (2000, 25000):
        for name, seconds in heads_seconds(n, bench.repeats).items():
            yield (f"{name}, {n}×1280", "–", f"{seconds:.2f} s", "synthetic features")
        yield (f"cache.load, {n}×1280 float32", "–", f"{cache_read_mb_s(n, bench.repeats):.0f} MB/s", "warm page cache")


def heads_seconds(rows: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, rows)
    features = np.maximum(rng.normal(0, 1, (rows, backbone.FEATURE_DIM)) + labels[:, None] * 0.1, 0)
    features = features.astype(np.float32)
    config = HeadConfig(cs=[0.01], folds=2, jobs=-1, dense_recipe="tutorial", patience=10)
    logreg = statistics.median(train_logreg(config, features, labels)[1]["fit_seconds"] for _ in range(repeats))
    started = time.perf_counter()
    rows = Loaded(features[:, None], labels, [])
    network.train_dense(config, rows, rows, 2)
    return {"logreg fit": logreg, "dense fit (10 epochs)": time.perf_counter() - started}


def cache_read_mb_s(rows: int, repeats: int) -> float:
    """cache.load of a train split of `rows` × 1280 float32 (warm page cache)."""
    with tempfile.TemporaryDirectory() as folder:
        path = gaussian_cache(Path(folder) / "features.h5", 2, {"train": rows}, backbone.FEATURE_DIM, dtype="float32")
        rate = median_rate(lambda: cache.load(path, "train"), rows, repeats)
    return rate * backbone.FEATURE_DIM * 4 / 1e6
