"""float32 against int8 extraction on one dataset, and the calibration-size sweep: the experiments
behind BENCHMARKS.md's int8 tables (issue 25). `make bench` runs `bench.precision.int8_rows`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import cache
from bench.precision import extraction_config
from classify import train as heads_train
from classify.config import HeadConfig
from extract import backbones
from extract.network import backbone, calibration, engines
from extract.reading.sources import open_source
from extract.running import build
from report import stats
from report.collect import methods_in
from workflow.paths import Paths


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
            build.run(extraction_config(data, weights, size, out, engine_dir, precision=precision), progress=False)
            heads_train.run(HeadConfig(out=str(out)))
            metas[precision] = cache.info(Paths(out).cache)
        cosines = np.concatenate(
            [
                cosine(cache.load(Paths(outs["float32"]).cache, s)[0], cache.load(Paths(outs["int8"]).cache, s)[0])
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
            config = extraction_config(data, weights, size, Path(engine_dir), Path(engine_dir), calibration=count)
            started = time.perf_counter()
            engine = engines.make_engine(
                "tflite",
                model,
                digest,
                size,
                32,
                engine_dir,
                calibration=calibration.of_source(source, count, size, backbones.DEFAULT),
            )
            seconds = time.perf_counter() - started
            check = calibration.check(engine, model, digest, source, config)
            lines.append(
                f"| {count} | {check['cosine_mean']:.3f} | {check['cosine_min']:.3f} | "
                f"{100 * check['accuracy_float32']:.1f} | {100 * check['accuracy_int8']:.1f} | {seconds:.0f} |"
            )
    return lines
