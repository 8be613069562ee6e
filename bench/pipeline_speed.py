"""Does extraction keep up with its engine? `make bench` rows (issue 35).

- the pipeline without the network: a forced build with a zero-cost engine (the bench's own,
  zeros of the right widths), so that everything else is timed: listing, content hashing,
  reading, decoding, resizing, batching, the engine call, the suspects check, writing shards,
  assembling;
- decode+resize alone: extraction's tf.data pipeline, nothing after it;
- each real engine's bare forward on pre-decoded tensors;
- each engine's ceiling, decode and forward back to back on the same cores: 1 / (1/decode + 1/forward);
- `make features` end to end, float32 and int8, against that ceiling.

Builds are timed by their marginal rate between a small and a large folder of linked photos
(`bench.folders`), so that start-up (imports, the model, the engine's conversion, int8's
check) cancels; each folder is built once untimed first. Every measure runs once a round, in
turns, so that a machine shared with other jobs slows all alike; rows give the median.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from bench.folders import linked_folder
from bench.models import extraction_model
from bench.timing import median_rate
from extract import backbones
from extract.config import ExtractConfig
from extract.network import backbone, calibration, engines
from extract.reading import pipeline
from extract.reading.sources import Split, open_source
from extract.running import build


class ZeroEngine:
    """Costs nothing: zeros of the features' width, so that a build times everything but the network."""

    name = "zero"

    def __init__(self, width: int):
        self.width = width

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.zeros((len(images), self.width), np.float32)


def decode_only(data: Path, size: int, limit: int, repeats: int) -> float:
    """Extraction's own input pipeline (read, decode, resize, batch) with no forward pass."""
    paths = sorted(str(p) for p in data.rglob("*.jpg"))[:limit]
    split = Split("bench", paths, np.zeros(len(paths), np.int64), paths=paths)
    return median_rate(
        lambda: [None for _ in pipeline.batches(split, 0, size, 32, backbone=backbones.DEFAULT)], len(paths), repeats
    )


def build_seconds(data: Path, out: Path, settings: dict, zero: bool) -> tuple[float, float]:
    """Wall and CPU seconds (every thread's) of one forced `make features` (`build.run`) of `data`;
    `zero`: with the zero-cost engine. CPU seconds are the work done, which a machine shared with
    other jobs leaves about as it is, where it stretches the wall time."""
    config = ExtractConfig(data=str(data), out=str(out), force=True, **settings)
    started, cpu = time.perf_counter(), time.process_time()
    if zero:
        with mock.patch.object(engines, "make_engine", lambda *_, **__: ZeroEngine(config.source.width)):
            build.run(config, progress=False)
    else:
        build.run(config, progress=False)
    return time.perf_counter() - started, time.process_time() - cpu


def ceiling(decode: float, forward: float) -> float:
    """Images/s of decoding and a forward pass back to back on the same cores."""
    return 1 / (1 / decode + 1 / forward)


def ceiling_rows(
    data: Path, weights: str, engine_dir: Path, quick: bool, limit: int | None = None, size: int = 160
) -> list[tuple]:
    """The rows; `quick`: a few dozen images, one round, no untimed build, builds with the zero-cost
    engine alone (the other rows time the real engines' builds; int8's calibrations would cost minutes).
    int8 is calibrated on `limit` photos a split, as `bench.precision` is, so that its engine is reused."""
    small, large = (16, 48) if quick else (1000, 4000)
    rounds, repeats = (1, 1) if quick else (3, 3)
    count = 20 if quick else 200  # calibration images: as `bench.precision` has them, so its engine is reused
    model = extraction_model(weights, size)
    digest = backbone.weights_sha256(model)
    int8 = calibration.of_source(open_source(str(data), limit), count, size, backbones.DEFAULT)
    forward = {
        "tflite float32": engines.make_engine("tflite", model, digest, size, 32, engine_dir),
        "tflite int8": engines.make_engine("tflite", model, digest, size, 32, engine_dir, calibration=int8),
        "keras float32": engines.make_engine("keras", model, digest, size, 32, engine_dir),
    }
    common = {"weights": weights, "image_size": size, "engine_dir": str(engine_dir), "calibration": count}
    builds = {"zero-cost engine": ({**common, "engine": "tflite"}, True)}
    if not quick:
        builds["tflite float32"] = ({**common, "engine": "tflite"}, False)
        builds["tflite int8"] = ({**common, "engine": "tflite", "precision": "int8"}, False)
    inputs = np.random.default_rng(0).uniform(-1, 1, (32, size, size, 3)).astype(np.float32)
    rates: dict[str, list[float]] = {}

    def record(name: str, rate: float) -> None:
        rates.setdefault(name, []).append(rate)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        folders = {n: linked_folder(data, folder / f"data{n}", n) for n in (small, large)}
        for name, (settings, zero) in builds.items():  # untimed: the page cache, conversions, calibration
            for n in (small, large) if name.endswith("int8") else () if quick else (small,):  # int8's: per folder
                build_seconds(folders[n], folder / "out", settings, zero)
        for _ in range(rounds):
            record("decode", decode_only(data, size, 64 if quick else 3000, repeats))
            for name, engine in forward.items():
                batches = 1 if quick else 2 if name.startswith("keras") else 8
                step = lambda e=engine, b=batches: [e(inputs) for _ in range(b)]  # noqa: E731
                record(f"forward {name}", median_rate(step, batches * 32, repeats))
            for name, (settings, zero) in builds.items():
                seconds = {n: build_seconds(folders[n], folder / "out", settings, zero)[0] for n in (small, large)}
                # quick: the large build's own rate, start-up included (a few dozen images have no margin)
                marginal = large / seconds[large] if quick else (large - small) / (seconds[large] - seconds[small])
                record(f"build {name}", marginal)
    median = {name: statistics.median(values) for name, values in rates.items()}
    per_round = {name: ", ".join(f"{v:.0f}" for v in values) for name, values in rates.items()}
    decode, zero, f32 = median["decode"], median["build zero-cost engine"], median["forward tflite float32"]
    marginal = (
        f"one forced build of {large} linked photos, start-up included"
        if quick
        else f"marginal rate of forced builds, {small:,} → {large:,} linked photos; median of {rounds}"
    )
    rows = [
        ("decode + resize alone", size, f"{decode:.0f} img/s", f"tf.data, as extraction; rounds {per_round['decode']}"),
        (
            "make features, zero-cost engine",
            size,
            f"{zero:.0f} img/s",
            f"{zero / decode:.2f} × decode alone, {zero / f32:.1f} × tflite float32's bare forward "
            f"(targets 0.6 and 3); {marginal}; rounds {per_round['build zero-cost engine']}",
        ),
    ]
    for name in forward:
        rate, top = median[f"forward {name}"], ceiling(decode, median[f"forward {name}"])
        note = f"batch 32; rounds {per_round[f'forward {name}']}"
        rows.append((f"bare forward, {name}", size, f"{rate:.0f} img/s", note))
        rows.append((f"ceiling, {name}", size, f"{top:.0f} img/s", "1 / (1/decode + 1/forward)"))
        if f"build {name}" in median:
            rate = median[f"build {name}"]
            rows.append(
                (
                    f"make features, {name}",
                    size,
                    f"{rate:.0f} img/s",
                    f"{rate / top:.2f} × its ceiling; {marginal}; rounds {per_round[f'build {name}']}",
                )
            )
    return rows
