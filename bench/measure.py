"""Speed and memory of the workflow, as rows of one table (`make bench`).

All figures come from one run on one machine, so their ratios hold on a noisy one; each speed
is the median of several repeats after a warm-up. Real photos where content matters, synthetic
tensors and features elsewhere. Each family of rows is a module of `bench.rows`; ROWS runs them
in the table's order (later families reuse what earlier ones left in the shared output folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from bench.config import BenchConfig
from bench.context import Bench
from bench.rows import (
    assembly,
    audit_planted,
    audit_search,
    backbones,
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
    backbones.rows,
    scale.rows,
    heads.rows,
)


def run(config: BenchConfig, progress: bool = False) -> list[tuple]:
    """Every row of the table: (measure, px, result, note). With `progress`, a line per family of
    rows as it ends, with its seconds: the bench takes minutes, and CI's budget is the QUICK run's."""
    rows = []
    with tempfile.TemporaryDirectory() as engine_dir, tempfile.TemporaryDirectory() as out:
        bench = Bench(config, Path(engine_dir), Path(out))
        with tqdm(ROWS, desc="bench", unit="family", disable=not progress, dynamic_ncols=True) as bar:
            for family in bar:
                name, started = family.__module__.rsplit(".", 1)[-1], time.perf_counter()
                bar.set_postfix_str(name)
                rows.extend(family(bench))
                if progress:
                    bar.write(f"bench: {name} rows took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows
