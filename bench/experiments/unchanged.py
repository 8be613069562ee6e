"""Did a change change behaviour? Compares two output folders made by the same `make features heads
report` settings from two checkouts (issue 20's no-behaviour-change check):

    .venv/bin/python -m bench.experiments.unchanged BEFORE_OUT AFTER_OUT

- the cache: each split's labels, ids and last-layer features, byte for byte (the last layer is
  `/<split>/features`, or the `out_relu` block where a cache keeps several);
- the heads: every saved run's probabilities on the scored split, largest difference;
- the report: every number in report.json, largest difference, timings left out.

Reads HDF5 directly, so that caches of different formats compare. Exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np

from extract import backbones

LAST_LAYER = backbones.named(backbones.DEFAULT).last
TIMINGS = ("seconds", "_ms", "wall", "time", "fingerprint", "versions", "created")  # differ between any two runs


def last_layer(group: h5py.Group) -> np.ndarray:
    features = group["features"]
    return (features[LAST_LAYER] if isinstance(features, h5py.Group) else features)[...]


def cache_differences(before: Path, after: Path) -> list[str]:
    found = []
    with h5py.File(before, "r") as old, h5py.File(after, "r") as new:
        if sorted(old) != sorted(new):
            return [f"splits {sorted(old)} against {sorted(new)}"]
        for split in old:
            for name, read in (("labels", lambda g: g["labels"][...]), ("ids", lambda g: g["ids"][...])):
                if not np.array_equal(read(old[split]), read(new[split])):
                    found.append(f"{split}/{name} differ")
            a, b = last_layer(old[split]), last_layer(new[split])
            if a.shape != b.shape or a.tobytes() != b.tobytes():
                gap = np.abs(a.astype(np.float64) - b).max() if a.shape == b.shape else a.shape
                found.append(f"{split} last-layer features differ (largest {gap})")
    return found


def scored_differences(before: Path, after: Path) -> list[str]:
    found = []
    for old in sorted(before.glob("*.scored.npz")):
        new = after / old.name
        if not new.exists():
            found.append(f"{old.name} missing after")
            continue
        a, b = np.load(old)["probabilities"], np.load(new)["probabilities"]
        gap = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        if gap > 0:
            found.append(f"{old.name}: probabilities differ by up to {gap:.3g}")
    return found


def numbers(value, key: str = "") -> dict[str, float]:
    """Every number in a JSON value by its path, timings left out."""
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in numbers(item, f"{key}/{name}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{key}[{i}]").items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not any(t in key for t in TIMINGS):
        return {key: float(value)}
    return {}


def report_differences(before: Path, after: Path) -> list[str]:
    old, new = (numbers(json.loads(path.read_text())) for path in (before, after))
    found = [f"{key}: {old[key]} against {new.get(key)}" for key in old if old[key] != new.get(key)]
    return found + [f"{key}: new in after" for key in new.keys() - old.keys()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    checks = {
        "cache": cache_differences(args.before / "features.h5", args.after / "features.h5"),
        "heads": scored_differences(args.before / "heads", args.after / "heads"),
        "report": report_differences(args.before / "report.json", args.after / "report.json"),
    }
    for what, found in checks.items():
        print(f"{what}: {'identical' if not found else f'{len(found)} differences'}")
        for line in found[:20]:
            print(f"  {line}")
    return 1 if any(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
