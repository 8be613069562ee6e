"""Each head's wall time and peak memory as the train split grows past memory (`make bench` rows).

The cache is synthetic: `rows` float16 rows × 1280 in train, written a block at a time, and a
validation and a test split of `SCORED` rows each (the scored splits stay small, so the rows
measure training). Each head runs as its own `python -m classify` process (`bench.peak`), start-up
included.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.peak import measured
from bench.synthetic import gaussian_cache
from classify.config import HeadConfig
from extract.network.backbone import FEATURE_DIM
from workflow.paths import Paths

SCORED = 5000


def synthetic_cache(path: Path, rows: int, seed: int = 0) -> Path:
    """Two overlapping classes of ReLU'd Gaussian features, as pooled features are, at the backbone's
    width; `rows` train rows and `SCORED` in validation and test."""
    splits = {"train": rows, "validation": SCORED, "test": SCORED}
    return gaussian_cache(
        path, 2, splits, FEATURE_DIM, spread=0.08, relu=True, seed=seed, attrs={"dataset": "synthetic"}
    )


def measured_head(out: Path, head: str, memory_gb: float, more: tuple[str, ...] = ()) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS in MB, its metrics.json entry) of `python -m classify` training one
    seed of one head, with the flags `more`."""
    args = ["--quiet", "--out", str(out), "--heads", head, "--seeds", "1", "--memory-gb", str(memory_gb), *more]
    seconds, peak = measured("classify", args)
    return seconds, peak, json.loads(Paths(out).heads_metrics.read_text())[head]


def scale_rows(sizes: tuple[int, ...], memory_gb: float, more: tuple[str, ...] = ()) -> list[tuple]:
    """One row per head and train size; sizes whose float32 features exceed `memory_gb` stream;
    `more`: flags for `python -m classify`."""
    result = []
    for rows in sizes:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            synthetic_cache(Paths(folder).cache, rows)
            written = time.perf_counter() - started
            for head in HeadConfig().heads:  # the default heads
                seconds, rss, entry = measured_head(Path(folder), head, memory_gb, more)
                how = "streamed" if entry["streamed"] else "in memory"
                detail = entry["choices"].split(";")[0] + (f", {entry['passes']} passes" if "passes" in entry else "")
                result.append(
                    (
                        f"{head} head, {rows:,} train rows × 1280 float16 ({how})",
                        "–",
                        f"{seconds:.0f} s, {rss:.0f} MB",
                        f"wall and peak RSS of the process; {detail}; test accuracy "
                        f"{entry['test']['accuracy']:.3f}; cache written in {written:.0f} s",
                    )
                )
    return result
