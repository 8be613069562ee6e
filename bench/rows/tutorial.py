"""The tutorial's frozen-base `fit` against `make features` + `make heads`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from bench.rows.engines import end_to_end
from classify import train as heads_train
from classify.config import HeadConfig
from finetune.config import BaselineConfig
from finetune.tutorial import run as run_baseline


def rows(bench: Bench) -> Iterator[tuple]:
    epochs = 1 if bench.quick else 10
    yield from workflow_vs_tutorial(
        bench.data, bench.weights, bench.engine_dir, bench.out, epochs, bench.limit, bench.again
    )


def workflow_vs_tutorial(
    data: Path, weights: str, engine_dir: Path, out: Path, epochs: int, limit: int | None, repeats: int
) -> list[tuple]:
    """The tutorial's frozen-base `fit` against `make features` + `make heads`, same data, same epochs.

    The first `make heads` counts in features + heads; re-running the heads is the median of
    `repeats` runs after it (in-process, as the tutorial's fit time is)."""

    def make_heads(names: list[str]) -> tuple[float, dict]:
        started = time.perf_counter()
        # one run each, as the tutorial's recipe below: the same work on both sides
        config = HeadConfig(out=str(out), heads=names, dense_recipe="tutorial", epochs=epochs, seeds=1)
        metrics = heads_train.run(config)
        return time.perf_counter() - started, metrics

    _, extract_wall = end_to_end(data, weights, 160, "tflite", engine_dir, limit, out)
    heads = HeadConfig().heads  # the default heads
    first_heads, metrics = make_heads(heads)
    rerun = {
        head: statistics.median(make_heads(names)[0] for _ in range(repeats))
        for head, names in (("all", heads), *((head, [head]) for head in heads))
    }
    tutorial = run_baseline(BaselineConfig(out=str(out), epochs=epochs, seeds=1), progress=False)["tutorial"]
    accuracy = {name: entry["validation"]["accuracy"] for name, entry in (metrics | {"tutorial": tutorial}).items()}
    ours, fit = extract_wall + first_heads, tutorial["train_seconds"]
    return [
        (
            f"tutorial recipe: frozen base in fit, {epochs} epochs",
            160,
            f"{fit:.1f} s",
            f"validation accuracy {accuracy['tutorial']:.4f}",
        ),
        (
            "make features + make heads (the default heads)",
            160,
            f"{ours:.1f} s",
            f"extraction {extract_wall:.1f} s + heads {first_heads:.1f} s; validation accuracy "
            + ", ".join(f"{head} {accuracy[head]:.4f}" for head in heads),
        ),
        ("speed-up: tutorial / (features + heads)", "–", f"{fit / ours:.1f}×", "same data and epochs"),
        (
            "speed-up: tutorial / re-running make heads",
            "–",
            f"{fit / rerun['all']:.1f}×",
            f"the default heads {rerun['all']:.2f} s, median of {repeats}",
        ),
        *[
            (
                f"speed-up: tutorial / re-running the {head} head",
                "–",
                f"{fit / rerun[head]:.1f}×",
                f"{rerun[head]:.2f} s (`make heads HEADS={head}`), median of {repeats}",
            )
            for head in heads
        ],
    ]
