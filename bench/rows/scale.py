"""Each head as the train split grows past memory (`bench.scale`)."""

from __future__ import annotations

from collections.abc import Iterator

from bench.context import Bench
from bench.scale import scale_rows


def rows(bench: Bench) -> Iterator[tuple]:
    if bench.quick:  # 0.005 GB streams 2,000 rows (the rows above train heads in memory), the Dense head for 2 epochs
        yield from scale_rows((2000,), 0.005, ("--dense-recipe", "tutorial", "--epochs", "2"))
    else:
        yield from scale_rows((25_000, 500_000, 2_000_000), 1.0)
