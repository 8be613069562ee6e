"""Issue 33: the audit (`audit.find.audit`: every finding; not the galleries' thumbnails, which
generated features have no images for) on a synthetic 25k-image cache (the 25,000 PetImages are not
here), the audit at BASE against this tree's, in one run, each in a fresh process (start-up
included) on its own copy of the cache.
Gaussian features carry no images: this tree's pixel check is timed on fingerprints put beside the
cache as the first audit would keep them (the decoding they spare is timed on real images by
bench.experiments.audit_datasets).

    python -m bench.experiments.audit_speed <work folder> [rows]
    python -m bench.experiments.audit_speed <work folder> stages   (this tree's audit, stage by stage)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import cache
from audit import pixels
from bench.synthetic import gaussian_cache
from workflow.paths import Paths

BASE = "600e707"  # main before issue 33


def timed(tree: Path, out: Path) -> float:
    started = time.perf_counter()
    env = os.environ | {"PYTHONPATH": str(tree)}
    run = "from audit import find; from audit.config import AuditConfig; "
    run += f"find.audit({str(Paths(out).cache)!r}, AuditConfig(out={str(out)!r}))"
    subprocess.run([sys.executable, "-c", run], cwd=tree, env=env, check=True)
    return time.perf_counter() - started


def stages(out: Path) -> None:
    """Seconds of each stage of this tree's audit, in this process."""
    from audit import find
    from audit.config import AuditConfig

    config, path = AuditConfig(out=str(out)), Paths(out).cache
    started = time.perf_counter()
    data = find.pooled(path)
    print(f"pooled {time.perf_counter() - started:.1f} s", flush=True)
    for stage in (find.label_issues, find.near_duplicates, find.outliers):
        started = time.perf_counter()
        stage(path, config, data)
        print(f"{stage.__name__} {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    if sys.argv[2:] == ["stages"]:
        stages(Path(sys.argv[1]) / "new_out")
        sys.exit()
    work, rows = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25_000
    here = Path(__file__).resolve().parents[2]
    base = work / "base"
    if not base.exists():
        base.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", BASE], cwd=here, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    split = {"train": rows * 8 // 10, "validation": rows // 10, "test": rows // 10}
    source = work / "cache.h5"
    if not source.exists():
        gaussian_cache(source, n_classes=2, rows=split, dim=1280, spread=0.3, relu=True)
    for name in ("base_out", "new_out"):
        Paths(work / name).out.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, Paths(work / name).cache)
    ids = [item for name in cache.splits(source) for item in cache.ids(source, name)]
    grey = np.random.default_rng(0).integers(0, 256, (len(ids), pixels.SIDE**2), dtype=np.uint8)
    np.savez(Paths(work / "new_out").pixels, keys=np.array([f"id:{item}" for item in ids]), grey=grey)
    print(
        f"{rows} rows: audit at {BASE} {timed(base, work / 'base_out'):.1f} s, "
        f"this tree {timed(here, work / 'new_out'):.1f} s",
        flush=True,
    )
