"""The decode and forward ceiling of extraction's pipeline (`bench.pipeline_speed`)."""

from __future__ import annotations

from collections.abc import Iterator

from bench.context import Bench
from bench.pipeline_speed import ceiling_rows


def rows(bench: Bench) -> Iterator[tuple]:
    yield from ceiling_rows(bench.data, bench.weights, bench.engine_dir, bench.quick, bench.limit)
