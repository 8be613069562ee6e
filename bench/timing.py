"""Rates timed the one way every bench row times them: a warm-up, then the median of repeats."""

from __future__ import annotations

import statistics
import time


def median_rate(step, items: int, repeats: int) -> float:
    """`items` per second of `step()`: the median over `repeats` timed calls, after one untimed."""
    step()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return items / statistics.median(times)
