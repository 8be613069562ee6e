"""Are two caches the same, byte for byte? Every dataset of every split (every feature block, the
views, ids, labels, content hashes, what was skipped and why) and each split's attributes but its
timings; stricter than `unchanged` (the last layer), for changes that must change no value
(issue 35's faster pipeline):

    .venv/bin/python -m bench.experiments.same_cache BEFORE/features.h5 AFTER/features.h5

Exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

TIMINGS = ("seconds", "run_seconds")


def datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    found = {}
    handle.visititems(lambda name, item: found.update({name: item}) if isinstance(item, h5py.Dataset) else None)
    return found


def differences(before: Path, after: Path) -> list[str]:
    found = []
    with h5py.File(before, "r") as old, h5py.File(after, "r") as new:
        a, b = datasets(old), datasets(new)
        found += [f"{name}: only in one" for name in sorted(a.keys() ^ b.keys())]
        for name in sorted(a.keys() & b.keys()):
            x, y = a[name][...], b[name][...]
            same = x.dtype == y.dtype and x.shape == y.shape
            same = same and (x.tolist() == y.tolist() if x.dtype == object else x.tobytes() == y.tobytes())
            if not same:
                found.append(f"{name} differs")
        for split in old:
            for key in sorted(set(old[split].attrs) | set(new[split].attrs)):
                if key in TIMINGS:
                    continue
                if not np.array_equal(old[split].attrs.get(key), new[split].attrs.get(key)):
                    found.append(f"{split} attribute {key} differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    found = differences(args.before, args.after)
    with h5py.File(args.before, "r") as handle:
        count = len(datasets(handle))
    print(f"{count} datasets: {'identical' if not found else f'{len(found)} differences'}")
    for line in found[:20]:
        print(f"  {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
