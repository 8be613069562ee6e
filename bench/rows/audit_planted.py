"""`make audit` on the photos with planted label flips and copies across splits."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audit import find as audit_find
from audit.config import AuditConfig
from bench.context import Bench
from extract.config import ExtractConfig
from extract.running import build
from workflow.paths import Paths


def rows(bench: Bench) -> Iterator[tuple]:
    yield from planted_rows(bench.data, bench.weights, bench.engine_dir, *((6, 4, 30) if bench.quick else (60, 20, 1)))


def planted_rows(data: Path, weights: str, engine_dir: Path, flips: int, leaks: int, every: int = 1) -> list[tuple]:
    """`make audit` on a copy of the photos (every `every`-th) with `flips` train photos moved to
    the other class folder and `leaks` validation photos copied into train, half re-encoded at
    JPEG quality 70, half resized to 60%: recall of the flips in the first 100 train label issues, and
    how many copies are reported as leakage."""
    from PIL import Image

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        copy = Path(root, "data")
        for photo in sorted(data.rglob("*.jpg"))[::every]:
            target = copy / photo.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(photo, target)
        moved = set()
        for photo in rng.choice(sorted((copy / "train").rglob("*.jpg")), flips, replace=False):
            other = "dogs" if photo.parent.name == "cats" else "cats"
            photo.rename(copy / "train" / other / photo.name)
            moved.add(f"train/{other}/{photo.name}")
        copies = {}
        for k, photo in enumerate(rng.choice(sorted((copy / "validation").rglob("*.jpg")), leaks, replace=False)):
            image = Image.open(photo).convert("RGB")
            target = copy / "train" / photo.parent.name / f"leak-{photo.name}"
            if k % 2:
                image.resize((image.width * 6 // 10, image.height * 6 // 10)).save(target, quality=90)
            else:
                image.save(target, quality=70)
            copies[f"train/{photo.parent.name}/leak-{photo.name}"] = f"validation/{photo.parent.name}/{photo.name}"
        out = Path(root, "out")
        build.run(ExtractConfig(data=str(copy), weights=weights, out=str(out), engine_dir=str(engine_dir)), False)
        found = audit_find.audit(Paths(out).cache, AuditConfig(out=str(out)))
    labels = list(found[(found["issue"] == "label") & (found["split"] == "train")]["id"][:100])
    leakage = found[found["issue"] == "leakage"]
    caught = set(zip(leakage["id"], leakage["paired_id"], strict=True)) & set(copies.items())
    return [
        (
            f"audit: {flips} planted label flips in the first 100 label issues",
            160,
            f"{len(moved.intersection(labels)) / flips:.0%} recall",
            f"{len(labels)} listed; target 80%",
        ),
        (
            f"audit: {leaks} planted copies across splits reported as leakage",
            160,
            f"{len(caught)} of {leaks}",
            f"{len(leakage) - len(caught)} other leakage pairs; target all",
        ),
    ]
