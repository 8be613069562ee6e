"""Speed and memory of the workflow, as rows of one table (`make bench`).

All figures come from one run on one machine, so their ratios hold on a noisy one; each speed
is the median of several repeats after a warm-up. Real photos where content matters, synthetic
tensors and features elsewhere. Each family of rows is a module of `bench.rows`; ROWS runs them
in the table's order (later families reuse what earlier ones left in the shared output folder).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.config import BenchConfig
from bench.context import Bench
from bench.rows import (
    assembly,
    audit_planted,
    audit_search,
    ceiling,
    cluster,
    engines,
    heads,
    int8,
    machine,
    marginal,
    memory,
    predict,
    scale,
    start_up,
    tutorial,
    update,
)

ROWS = (
    machine.rows,
    engines.rows,
    marginal.rows,
    tutorial.rows,
    start_up.rows,
    predict.rows,
    memory.rows,
    update.rows,
    audit_search.rows,
    cluster.rows,
    assembly.rows,
    audit_planted.rows,
    int8.rows,
    ceiling.rows,
    scale.rows,
    heads.rows,
)


def run(config: BenchConfig, progress: bool = False) -> list[tuple]:
    """Every row of the table: (measure, px, result, note)."""
    with tempfile.TemporaryDirectory() as engine_dir, tempfile.TemporaryDirectory() as out:
        bench = Bench(config, Path(engine_dir), Path(out))
        return [row for family in ROWS for row in family(bench)]
