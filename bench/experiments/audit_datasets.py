"""Issue 33: `find.audit` on real caches, timed, and what it flags by reason; the pixel
fingerprints made at the first audit (cold) and read from beside the cache after (warm).

    python -m bench.experiments.audit_datasets <cache out> [<cache out> ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from audit import find
from audit.config import AuditConfig
from workflow.paths import Paths

if __name__ == "__main__":
    for out in map(Path, sys.argv[1:]):
        Paths(out).pixels.unlink(missing_ok=True)
        for run in ("cold", "warm"):
            started = time.perf_counter()
            found = find.near_duplicates(Paths(out).cache, AuditConfig(out=str(out), jobs=1))
            seconds = time.perf_counter() - started
            counts = found.groupby(["issue", "reason"]).size().to_dict()
            images = {split: len(set(found[found["split"] == split]["paired_id"])) for split in ("train",)}
            print(out.name, run, f"{seconds:.2f} s", counts, "scored images with a train copy:", images, flush=True)
        print(found.head(5).to_string(), flush=True)
