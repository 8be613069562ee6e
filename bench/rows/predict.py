"""`make predict` over photos, wall time included."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from bench.folders import linked_folder
from classify.config import PredictConfig
from classify.prediction import predict


def rows(bench: Bench) -> Iterator[tuple]:
    rate, count = predict_rate(bench.data, bench.out, bench.engine_dir, bench.limit)
    yield ("make predict, logreg head", 160, f"{rate:.0f} img/s", f"{count} photos, wall incl. start-up")


def predict_rate(data: Path, out: Path, engine_dir: Path, limit: int | None) -> tuple[float, int]:
    """`make predict` over the validation photos (or `limit` photos, linked), wall incl. start-up."""
    with tempfile.TemporaryDirectory() as folder:
        images = data / "validation" if limit is None else linked_folder(data, Path(folder), limit)
        started = time.perf_counter()
        counts = predict(PredictConfig(images=[str(images)], out=str(out), engine_dir=str(engine_dir)), progress=False)
        return sum(counts.values()) / (time.perf_counter() - started), sum(counts.values())
