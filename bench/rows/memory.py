"""Peak memory of a `python -m extract` process as the images grow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.context import Bench
from bench.peak import measured


def rows(bench: Bench) -> Iterator[tuple]:
    for count in (100,) if bench.quick else (1000, 25000):
        yield (
            f"peak RSS of extraction, {count} images",
            160,
            f"{peak_rss_mb(count, bench.weights, bench.engine_dir, 160):.0f} MB",
            "python -m extract process",
        )


def peak_rss_mb(count: int, weights: str, engine_dir: Path, size: int) -> float:
    """Peak RSS of a `python -m extract` process over `count` generated images."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as root:
        rng = np.random.default_rng(0)
        tile = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
        for split, share in (("train", 0.8), ("validation", 0.2)):
            for label in ("a", "b"):
                folder = Path(root, "data", split, label)
                folder.mkdir(parents=True)
                Image.fromarray(tile).save(folder / "0.jpg", quality=90)
                for i in range(1, int(count * share / 2)):
                    os.link(folder / "0.jpg", folder / f"{i}.jpg")  # same bytes, no disk cost
        args = [
            "--quiet",
            "--data",
            str(Path(root, "data")),
            "--weights",
            weights,
            "--image-size",
            str(size),
            "--out",
            str(Path(root, "out")),
            "--engine-dir",
            str(engine_dir),
        ]
        return measured("extract", args)[1]
