"""int8 against float32 extraction: speed (a `make bench` row), and what the heads do with the
features (BENCHMARKS.md's tables, `precision_table` and `calibration_sweep`).

Speeds are ratios measured in one run, float32 and int8 in turns, so that a machine shared with
other jobs slows both alike; the spread of the per-round ratios says how noisy it was.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import cache
from bench.timing import median_rate
from classify import train as heads_train
from classify.config import HeadConfig
from extract import backbone, build, calibration, engines
from extract.config import ExtractConfig
from extract.sources import open_source
from report import stats
from report.collect import methods_in
from workflow.paths import Paths


def _config(data: Path, weights: str, size: int, out: Path, engine_dir: Path, **more) -> ExtractConfig:
    return ExtractConfig(
        data=str(data), weights=weights, image_size=size, out=str(out), engine_dir=str(engine_dir), **more
    )


def _extraction_rate(config: ExtractConfig) -> float:
    """Images/s of one forced extraction: its work, from the cache's own per-split seconds."""
    summary = build.run(config, progress=False)
    return sum(s.images for s in summary.splits) / sum(s.seconds for s in summary.splits)


def int8_rows(
    data: Path, weights: str, engine_dir: Path, out: Path, sizes, limit: int | None, count: int, rounds: int
) -> list[tuple]:
    """Rows of `make bench`: int8 over float32 extraction, bare forward and end to end, per size.
    Each round times both, back to back; the row gives the median rates and every round's ratio."""
    rows = []
    for size in sizes:
        model = backbone.build_backbone(weights, size)
        digest = backbone.weights_sha256(model)
        started = time.perf_counter()
        int8 = calibration.of_source(open_source(str(data), limit), count, size)
        built = {
            "float32": engines.make_engine("tflite", model, digest, size, 32, engine_dir),
            "int8": engines.make_engine("tflite", model, digest, size, 32, engine_dir, calibration=int8),
        }
        conversion = time.perf_counter() - started
        inputs = np.random.default_rng(0).uniform(-1, 1, (32, size, size, 3)).astype(np.float32)
        configs = {
            precision: _config(data, weights, size, out, engine_dir, limit=limit, force=True, precision=precision)
            for precision in built
        }
        bare, e2e = {p: [] for p in built}, {p: [] for p in built}
        for _ in range(rounds):
            for precision, engine in built.items():
                bare[precision].append(median_rate(lambda e=engine, x=inputs: [e(x) for _ in range(8)], 8 * 32, 3))
                e2e[precision].append(_extraction_rate(configs[precision]))
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


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def precision_table(data: Path, weights: str, size: int = 160, root: Path | None = None) -> list[str]:
    """Markdown rows, float32 against int8 on one dataset: extraction img/s, the features' cosine
    (every row), and each head's accuracy on the scored split with the report's intervals, and
    int8's paired difference from float32 with McNemar's p."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(root or scratch)
        engine_dir = root / "engines"
        outs = {p: root / p for p in ("float32", "int8")}
        metas = {}
        for precision, out in outs.items():
            build.run(_config(data, weights, size, out, engine_dir, precision=precision), progress=False)
            heads_train.run(HeadConfig(out=str(out)))
            metas[precision] = cache.info(Paths(out).cache)
        cosines = np.concatenate(
            [
                _cosine(cache.load(Paths(outs["float32"]).cache, s)[0], cache.load(Paths(outs["int8"]).cache, s)[0])
                for s in metas["float32"]["splits"]
            ]
        )
        methods = {p: {m.name: m for m in methods_in(out)} for p, out in outs.items()}
        lines = []
        for precision, meta in metas.items():
            splits = meta["splits"].values()
            rate = sum(s["rows"] for s in splits) / sum(s["seconds"] for s in splits)
            cells = [precision, f"{rate:.0f}"]
            cells.append("–" if precision == "float32" else f"{cosines.mean():.3f} (min {cosines.min():.3f})")
            for head in HeadConfig().heads:  # the default heads
                method = methods[precision][head]
                correct = stats.correctness(method.scored.probabilities, method.scored.labels)
                a = stats.accuracy_interval(correct)
                cells.append(f"{100 * a.estimate:.2f} [{100 * a.low:.2f}, {100 * a.high:.2f}]")
                if precision == "int8":
                    base = methods["float32"][head]
                    reference = stats.correctness(base.scored.probabilities, base.scored.labels)
                    d = stats.paired_difference(correct, reference)
                    p = stats.mcnemar_p(correct, reference)
                    cells.append(f"{100 * d.estimate:+.2f} [{100 * d.low:+.2f}, {100 * d.high:+.2f}], p = {p:.2g}")
                else:
                    cells.append("–")
            lines.append("| " + " | ".join(cells) + " |")
        check = metas["int8"]["precision_check"]
        lines.append(
            f"(choice-row check: cosine {check['cosine_mean']:.3f}, logistic regression "
            f"{100 * check['accuracy_float32']:.1f}% float32, {100 * check['accuracy_int8']:.1f}% int8)"
        )
        return lines


def calibration_sweep(data: Path, weights: str, counts=(50, 200, 1000), size: int = 160) -> list[str]:
    """Markdown rows: the agreement check (cosine, quick logistic regression on the choice rows)
    for int8 engines calibrated on `counts` train images, and each conversion's seconds."""
    lines = []
    with tempfile.TemporaryDirectory() as engine_dir:
        source = open_source(str(data))
        model = backbone.build_backbone(weights, size)
        digest = backbone.weights_sha256(model)
        for count in counts:
            config = _config(data, weights, size, Path(engine_dir), Path(engine_dir), calibration=count)
            started = time.perf_counter()
            engine = engines.make_engine(
                "tflite", model, digest, size, 32, engine_dir, calibration=calibration.of_source(source, count, size)
            )
            seconds = time.perf_counter() - started
            check = calibration.check(engine, model, digest, source, config)
            lines.append(
                f"| {count} | {check['cosine_mean']:.3f} | {check['cosine_min']:.3f} | "
                f"{100 * check['accuracy_float32']:.1f} | {100 * check['accuracy_int8']:.1f} | {seconds:.0f} |"
            )
    return lines
