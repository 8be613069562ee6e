"""int8 against float32 extraction: speed (a `make bench` row), and what the heads do with the
features (BENCHMARKS.md's tables, `precision_table` and `calibration_sweep`).

Speeds are ratios measured in one run, float32 and int8 in turns, so that a machine shared with
other jobs slows both alike; the spread of the per-round ratios says how noisy it was.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from bench.models import extraction_model
from bench.timing import median_rate
from extract import backbones
from extract.config import ExtractConfig
from extract.network import backbone, calibration, engines
from extract.reading.sources import open_source
from extract.running import build


def extraction_config(data: Path, weights: str, size: int, out: Path, engine_dir: Path, **more) -> ExtractConfig:
    return ExtractConfig(
        data=str(data), weights=weights, image_size=size, out=str(out), engine_dir=str(engine_dir), **more
    )


def extraction_rate(config: ExtractConfig) -> float:
    """Images/s of one forced extraction: its work, from the cache's own per-split seconds."""
    summary = build.run(config, progress=False)
    return sum(s.images for s in summary.splits) / sum(s.seconds for s in summary.splits)


def int8_rows(
    data: Path,
    weights: str,
    engine_dir: Path,
    out: Path,
    sizes,
    limit: int | None,
    count: int,
    rounds: int,
    batches: int = 8,
    repeats: int = 3,
) -> list[tuple]:
    """Rows of `make bench`: int8 over float32 extraction, bare forward (`batches` batches of 32, the
    median of `repeats` timings) and end to end, per size. Each round times both, back to back; the
    row gives the median rates and every round's ratio."""
    rows = []
    for size in sizes:
        model = extraction_model(weights, size)
        digest = backbone.weights_sha256(model)
        started = time.perf_counter()
        int8 = calibration.of_source(open_source(str(data), limit), count, size, backbones.DEFAULT)
        built = {
            "float32": engines.make_engine("tflite", model, digest, size, 32, engine_dir),
            "int8": engines.make_engine("tflite", model, digest, size, 32, engine_dir, calibration=int8),
        }
        conversion = time.perf_counter() - started
        inputs = np.random.default_rng(0).uniform(-1, 1, (32, size, size, 3)).astype(np.float32)
        configs = {
            precision: extraction_config(  # the calibration above: its engine is reused
                data, weights, size, out, engine_dir, limit=limit, force=True, precision=precision, calibration=count
            )
            for precision in built
        }
        bare, e2e = {p: [] for p in built}, {p: [] for p in built}
        for _ in range(rounds):
            for precision, engine in built.items():
                timed = lambda e=engine, x=inputs: [e(x) for _ in range(batches)]  # noqa: E731
                bare[precision].append(median_rate(timed, batches * 32, repeats))
                e2e[precision].append(extraction_rate(configs[precision]))
        for what, rates in (("bare forward", bare), ("extraction end to end", e2e)):
            ratios = [i / f for i, f in zip(rates["int8"], rates["float32"], strict=True)]
            rows.append(
                (
                    f"int8 / float32, {what}",
                    size,
                    f"{statistics.median(ratios):.2f}×",
                    f"int8 {statistics.median(rates['int8']):.0f} img/s, float32 "
                    f"{statistics.median(rates['float32']):.0f} img/s; per round "
                    + ", ".join(f"{r:.2f}" for r in ratios)
                    + f"; calibrated on {count} photos (with the float conversion: {conversion:.0f} s)",
                )
            )
    return rows
