"""Does the scored split's labelling decide which train images the audit lists? (issue 26;
BENCHMARKS.md)

    .venv/bin/python -m bench.experiments.scored_labels DATA WEIGHTS [--flips 60] [--find path/to/find.py]

Copies DATA (hard links) with `--flips` train photos moved to another class folder, extracts it
at 160 px, and runs the audit's label issues and outliers twice: as labelled, and with the
scored split's labels permuted. Prints the recall of the flips among the first 100 train label
issues, and how many train ids the permutation added to or removed from what `EXCLUDE=audit.csv`
would drop. `--find` loads another version of `audit/find.py` (e.g. `git show
main:audit/find.py > /tmp/find.py`), to compare before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from audit import find as current_find
from audit.config import AuditConfig
from extract.config import ExtractConfig
from extract.running import build
from workflow.paths import Paths


def planted_copy(data: Path, root: Path, flips: int) -> set[str]:
    """A hard-linked copy of `data` under `root` with `flips` train photos moved to another class;
    their new ids."""
    rng = np.random.default_rng(0)
    for photo in sorted(p for p in data.rglob("*") if p.is_file()):
        target = root / photo.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(photo, target)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    moved = set()
    for photo in rng.choice(sorted(p for p in (root / "train").rglob("*") if p.is_file()), flips, replace=False):
        other = classes[(classes.index(photo.parent.name) + 1) % len(classes)]
        photo.rename(root / "train" / other / photo.name)
        moved.add(f"train/{other}/{photo.name}")
    return moved


def train_findings(find, path, config, data) -> tuple[list[str], set[str]]:
    """(train's label issues in rank order, every train id listed as a label issue or outlier)."""
    labels = find.label_issues(path, config, data)
    outliers = find.outliers(path, config, data, frozenset(labels["id"]))
    ranked = list(labels[labels["split"] == "train"]["id"])
    return ranked, set(ranked) | set(outliers[outliers["split"] == "train"]["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("weights")
    parser.add_argument("--flips", type=int, default=60)
    parser.add_argument("--find", type=Path, help="another audit/find.py to run instead of this one")
    args = parser.parse_args()
    find = current_find
    if args.find:
        spec = importlib.util.spec_from_file_location("other_find", args.find)
        find = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up
        spec.loader.exec_module(find)
    with tempfile.TemporaryDirectory() as folder:
        moved = planted_copy(args.data, Path(folder, "data"), args.flips)
        out = Path(folder, "out")
        build.run(ExtractConfig(data=str(Path(folder, "data")), weights=args.weights, out=str(out)), False)
        path, config = Paths(out).cache, AuditConfig(out=str(out))
        data = find.pooled(path)
        ranked, listed = train_findings(find, path, config, data)
        scored = np.flatnonzero(data.splits != "train")
        labels = data.labels.copy()
        labels[scored] = np.random.default_rng(1).permutation(labels[scored])
        _, permuted = train_findings(find, path, config, replace(data, labels=labels))
    recall = len(moved.intersection(ranked[:100])) / len(moved)
    print(f"flips found in the first 100 train label issues: {recall:.0%} ({len(ranked)} train label issues)")
    print(f"train ids listed: {len(listed)}; with the scored labels permuted: {len(permuted)}, ")
    print(f"of which {len(permuted - listed)} added and {len(listed - permuted)} removed")


if __name__ == "__main__":
    main()
