"""Rates timed the one way every bench row times them: a warm-up, then the median of repeats; and
wall times of whole commands."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path


def median_rate(step, items: int, repeats: int) -> float:
    """`items` per second of `step()`: the median over `repeats` timed calls, after one untimed."""
    step()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return items / statistics.median(times)


ROOT = Path(__file__).resolve().parents[1]


def wall_seconds(command: list[str], repeats: int) -> float:
    """Median wall time of a command run from the repository root, start-up included."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
