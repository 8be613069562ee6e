"""What a large dataset sees: extraction's marginal rate between two forced builds."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from bench.folders import linked_folder
from bench.rows.engines import bare_forward, end_to_end


def rows(bench: Bench) -> Iterator[tuple]:
    counts = (64, 256) if bench.quick else (1000, 5000)
    yield from marginal_rows(bench.data, bench.weights, bench.engine_dir, counts, bench.repeats, bench.batches)


def marginal_rows(
    photos: Path, weights: str, engine_dir: Path, counts: tuple[int, int], repeats: int, batches: int
) -> list[tuple]:
    """What a large dataset sees: the images/s between two forced builds of `counts` images (links
    to the photos, cycled), after a warm-up build, so that start-up cancels; against the bare
    TFLite forward pass timed in the same run, after each build."""
    size, (small, large) = 160, counts
    with tempfile.TemporaryDirectory() as folder:
        walls, bare = {}, []
        warm = linked_folder(photos, Path(folder, "warm"), small)  # the TFLite conversion, the page cache
        end_to_end(warm, weights, size, "tflite", engine_dir, None, Path(folder, "out"))
        for count in (small, large):
            data = linked_folder(photos, Path(folder, f"data{count}"), count)
            walls[count] = end_to_end(data, weights, size, "tflite", engine_dir, None, Path(folder, "out"))[1]
            bare.append(bare_forward(weights, size, engine_dir, repeats, ("tflite",), batches)["tflite"])
    forward, grown = statistics.mean(bare), walls[large] - walls[small]
    walled = f"forced builds, wall {walls[small]:.1f} s and {walls[large]:.1f} s"
    name = f"extraction, marginal rate {small:,} → {large:,} images"
    if grown <= 0:  # QUICK's few images: the builds' noise outweighs the images added
        return [(name, size, "not measured", f"the larger build was not slower; {walled}")]
    rate = (large - small) / grown
    return [
        (
            name,
            size,
            f"{rate:.0f} img/s",
            f"{forward / rate:.2f} × the time of its bare forward ({forward:.0f} img/s, same run); {walled}",
        )
    ]
