"""int8 over float32 extraction, per size (`bench.precision`)."""

from __future__ import annotations

from collections.abc import Iterator

from bench.context import Bench
from bench.precision import int8_rows


def rows(bench: Bench) -> Iterator[tuple]:
    count, rounds = (20, 1) if bench.quick else (200, 3)
    yield from int8_rows(
        bench.data,
        bench.weights,
        bench.engine_dir,
        bench.out,
        bench.sizes,
        bench.limit,
        count,
        rounds,
        batches=bench.batches,
        repeats=bench.repeats,
    )
