"""Per image size: the compute floor, each engine's bare forward pass and its extraction end to
end, a fine-tuning step, and decoding alone."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from bench import finetune_speed
from bench.context import Bench
from bench.models import extraction_model
from bench.pipeline_speed import decode_only
from bench.timing import median_rate
from extract.config import ExtractConfig
from extract.network import backbone, engines
from extract.running import build


def rows(bench: Bench) -> Iterator[tuple]:
    flops, weights, engine_dir = bench.flops, bench.weights, bench.engine_dir
    for size in bench.sizes:
        macs = multiply_adds(weights, size)
        yield (
            "compute floor (multiply-adds / peak)",
            size,
            f"{flops / (2 * macs):.0f} img/s",
            f"{macs / 1e6:.0f} M multiply-adds per image",
        )
        # Bare forward and the default engine's extraction in turns, 3 rounds: this machine's
        # speed drifts over minutes, and neighbouring timings keep their ratio. Keras end to
        # end, slower, runs once (time budget), and not in QUICK: its bare forward runs the engine.
        bare_runs, e2e_runs = [], {"tflite": [], "keras": []}
        for _ in range(1 if bench.quick else 3):
            bare_runs.append(bare_forward(weights, size, engine_dir, bench.repeats, batches=bench.batches))
            e2e_runs["tflite"].append(
                end_to_end(bench.data, weights, size, "tflite", engine_dir, bench.limit, bench.out)
            )
        if not bench.quick:
            e2e_runs["keras"].append(end_to_end(bench.data, weights, size, "keras", engine_dir, bench.limit, bench.out))
        bare = {name: statistics.median(run[name] for run in bare_runs) for name in bare_runs[0]}
        for name, rate in bare.items():
            yield (
                f"bare forward, {name}",
                size,
                f"{rate:.0f} img/s",
                f"pre-decoded tensors, batch 32; {rate * 2 * macs / flops:.0%} of peak; median of {len(bare_runs)}",
            )
        for name, runs in ((name, runs) for name, runs in e2e_runs.items() if runs):
            rate, wall = sorted(runs)[len(runs) // 2]
            yield (
                f"extraction end to end, {name}",
                size,
                f"{rate:.0f} img/s",
                f"{rate / bare[name]:.2f} × its bare forward; {wall:.1f} s wall incl. start-up; median of {len(runs)}",
            )
        yield from finetune_speed.rows(weights, size, bench.quick)
        rate = decode_only(bench.data, size, 256 if bench.quick else 3000, bench.repeats)
        yield ("read + decode + resize alone", size, f"{rate:.0f} img/s", "extraction's tf.data pipeline")


def bare_forward(
    weights: str, size: int, engine_dir: Path, repeats: int, names=("keras", "tflite"), batches: int = 8
) -> dict[str, float]:
    """Images/s of each engine in `names` on pre-decoded tensors, `batches` batches of 32 a timing
    (one batch is too short to time on a noisy machine; QUICK takes one all the same)."""
    model = extraction_model(weights, size)
    digest = backbone.weights_sha256(model)
    inputs = np.random.default_rng(0).uniform(-1, 1, (32, size, size, 3)).astype(np.float32)
    rates = {}
    for name in names:
        engine = engines.make_engine(name, model, digest, size, 32, engine_dir)
        rates[name] = median_rate(lambda engine=engine: [engine(inputs) for _ in range(batches)], batches * 32, repeats)
    return rates


def end_to_end(
    data: Path, weights: str, size: int, engine: str, engine_dir: Path, limit: int | None, out: str | Path
) -> tuple[float, float]:
    """(images/s of extraction work from the cache's own per-split seconds, wall seconds of the whole run)"""
    config = ExtractConfig(
        data=str(data),
        weights=weights,
        image_size=size,
        out=str(out),
        engine=engine,
        engine_dir=str(engine_dir),
        limit=limit,
        force=True,
    )
    started = time.perf_counter()
    summary = build.run(config, progress=False)
    wall = time.perf_counter() - started
    work = sum(s.seconds for s in summary.splits)
    return sum(s.images for s in summary.splits) / work, wall


def multiply_adds(weights: str, size: int) -> int:
    """MobileNetV2's multiply-adds per image: every (depthwise) convolution's output pixels × kernel size."""
    model = backbone.build_backbone(weights, size)
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            height, width = layer.output.shape[1:3]
            total += height * width * int(np.prod(layer.kernel.shape))
    return total
