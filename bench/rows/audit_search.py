"""`make audit` on the real cache, and its search alone on synthetic rows."""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from audit import find as audit_find
from audit.config import AuditConfig
from bench.context import Bench
from bench.synthetic import gaussian_cache
from bench.timing import wall_seconds
from extract.network import backbone
from workflow.paths import Paths


def rows(bench: Bench) -> Iterator[tuple]:
    yield from audit_rows(bench.out, 2000 if bench.quick else 25000)


def audit_rows(out: Path, rows: int) -> list[tuple]:
    """`make audit` on the real cache in `out` (wall, start-up and thumbnails included), and the
    audit's search alone on `rows` synthetic rows, with the peak memory it added."""
    wall = wall_seconds([sys.executable, "-m", "audit", "--quiet", "--out", str(out)], 1)
    counts = json.loads(Paths(out).audit_json.read_text())["images"]
    result = [(f"make audit, {sum(counts.values())} photos", 160, f"{wall:.1f} s", "wall incl. start-up; target 10 s")]
    with tempfile.TemporaryDirectory() as folder:
        splits = {"train": rows * 9 // 10, "validation": rows - rows * 9 // 10}
        path = gaussian_cache(
            Path(folder) / "features.h5", 2, splits, backbone.FEATURE_DIM, spread=1.0, relu=True, dtype="float32"
        )
        tracemalloc.start()
        started = time.perf_counter()
        audit_find.audit(path, AuditConfig(out=folder))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    full = rows * rows * 4 / 1e6
    result.append(
        (
            f"audit search alone, {rows} synthetic rows × 1280",
            "–",
            f"{seconds:.1f} s",
            f"peak {peak / 1e6:.0f} MB of Python allocations (an N×N float32 matrix: {full:.0f} MB); "
            "target 60 s at 25,000",
        )
    )
    return result
