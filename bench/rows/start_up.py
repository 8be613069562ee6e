"""`make features` on an up-to-date cache, and every command line's `--help`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from bench.timing import wall_seconds

# Every command line, for the start-up (`--help`) timings.
ENTRY_POINTS = (
    "extract",
    "classify",
    "classify.predict",
    "classify.export",
    "finetune",
    "finetune.baseline",
    "report",
    "audit",
    "bench",
)


def rows(bench: Bench) -> Iterator[tuple]:
    yield from start_up_rows(bench.data, bench.weights, bench.out, bench.limit, bench.again)


def start_up_rows(data: Path, weights: str, out: Path, limit: int | None, repeats: int) -> list[tuple]:
    """`make features` on an up-to-date cache (built at `out` with the TFLite engine), and every `--help`."""
    make = [
        "make",
        "--no-print-directory",
        "-s",
        "features",
        f"DATA={data}",
        f"WEIGHTS={weights}",
        f"OUT={out}",
        "ENGINE=tflite",
        f"PY={sys.executable}",
    ] + ([f"LIMIT={limit}"] if limit else [])
    rows = [
        (
            "`make features`, cache up to date",
            160,
            f"{wall_seconds(make, repeats):.2f} s",
            f"wall, median of {repeats}; target under 1 s",
        )
    ]
    for module in ENTRY_POINTS:
        seconds = wall_seconds([sys.executable, "-m", module, "--help"], repeats)
        rows.append((f"`python -m {module} --help`", "–", f"{seconds:.2f} s", f"wall, median of {repeats}"))
    return rows
