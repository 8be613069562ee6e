"""`make features` from scratch, then after adding photos."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.context import Bench
from bench.timing import wall_seconds


def rows(bench: Bench) -> Iterator[tuple]:
    yield from update_rows(bench.data, bench.weights, bench.engine_dir, *((64, 8) if bench.quick else (25000, 100)))


def update_rows(data: Path, weights: str, engine_dir: Path, count: int, added: int) -> list[tuple]:
    """`make features` on `count` distinct photos from scratch, then again after adding `added` more.

    The photos are the real ones, each copy made distinct by a JPEG comment segment: a change
    of content that decodes to the same pixels, so every copy costs a real decode."""
    photos = sorted(data.rglob("*.jpg"))
    order = np.random.default_rng(0).permutation(len(photos))  # both classes in any prefix
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root, "data")

        def write(first: int, last: int) -> None:
            for i in range(first, last):
                photo = photos[order[i % len(photos)]]
                target = folder / photo.parent.name / f"{i:06d}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                comment = f"copy {i}".encode()
                body = photo.read_bytes()
                target.write_bytes(body[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + body[2:])

        command = [sys.executable, "-m", "extract", "--quiet", "--data", str(folder), "--weights", weights]
        command += ["--image-size", "160", "--out", str(Path(root, "out")), "--engine-dir", str(engine_dir)]
        write(0, count)
        full = wall_seconds(command, 1)
        write(count, count + added)
        update = wall_seconds(command, 1)
    return [
        (f"make features, {count} photos from scratch", 160, f"{full:.1f} s", "wall incl. start-up"),
        (
            f"make features after adding {added} photos to those {count}",
            160,
            f"{update:.1f} s",
            f"wall incl. start-up; {full / update:.0f}× faster than the full build",
        ),
    ]
