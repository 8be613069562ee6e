"""Which rows train a model, which rows make its choices, and which rows score it: the one
protocol every method (heads, fine-tuning, the tutorial's recipe) follows, so no choice ever
sees the split the verdict is scored on.

- **score**: `test` when the cache has it, else `validation`.
- **choose** (early stopping, the best epoch, the best run): `validation` when a test split
  exists; otherwise `dev`, a part of train: per class, the `dev_fraction` of its train images
  with the lowest sha256 of their id. It is deterministic, stratified, and an image keeps its
  side when others are added.
- **fit**: train, less dev. Logistic regression's C is chosen by cross-validation on these rows.

This is the discipline of linear-probe versus fine-tuning studies (Kornblith et al. 2019, VTAB).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass

import numpy as np

import cache
from extract.sources import name_bytes
from workflow.errors import WorkflowError


@dataclass(frozen=True)
class Protocol:
    choose: str  # "validation" or "dev"
    score: str  # "test" or "validation"
    dev_fraction: float  # of train, per class; 0 when choices use validation
    dev_ids: frozenset[str]

    def describe(self) -> dict:
        """What metrics.json and the report say about it."""
        dev = f"dev ({self.dev_fraction:g} of each class's train images, by hash of id)"
        return {
            "fit": "train" if self.choose == "validation" else "train less dev",
            "choose": "validation" if self.choose == "validation" else dev,
            "score": self.score,
        }


def dev_ids(ids: list[str], labels: np.ndarray, fraction: float) -> frozenset[str]:
    """Per class, the `fraction` of ids with the lowest sha256 (at least one where the class has two)."""
    chosen = set()
    for label in np.unique(labels):
        members = [ids[i] for i in np.flatnonzero(labels == label)]
        count = min(len(members) - 1, max(1, round(fraction * len(members))))
        chosen.update(sorted(members, key=lambda item: hashlib.sha256(name_bytes(item)).digest())[:count])
    return frozenset(chosen)


def protocol_of(cache_path, dev_fraction: float) -> Protocol:
    """The protocol for a cache's splits."""
    names = cache.splits(cache_path)
    if "validation" not in names:
        raise cache.CacheError(f"{cache_path} has no validation split ({names}): a verdict needs one to score")
    if "test" in names:
        return Protocol(choose="validation", score="test", dev_fraction=0.0, dev_ids=frozenset())
    train = cache.read_split(cache_path, "train")
    return Protocol(
        choose="dev",
        score="validation",
        dev_fraction=dev_fraction,
        dev_ids=dev_ids(train.ids, train.labels, dev_fraction),
    )


def select(data: cache.SplitData, keep: np.ndarray) -> cache.SplitData:
    ids = [item for item, kept in zip(data.ids, keep, strict=True) if kept]
    return cache.SplitData(data.features[keep], data.labels[keep], ids)


@dataclass
class Rows:
    fit: cache.SplitData
    choose: cache.SplitData
    score: cache.SplitData
    others: dict[str, cache.SplitData]  # every split but train, by name, each scored for metrics.json


def rows_of(cache_path, protocol: Protocol, exclude: frozenset[str] = frozenset(), views: bool = False) -> Rows:
    """The cache's features, labels and ids in each role; `exclude`d ids leave train (fit and dev).
    With `views`, features are (N, K, D): each image, then its augmented views."""
    train = cache.read_split(cache_path, "train", views)
    train = select(train, np.array([item not in exclude for item in train.ids], dtype=bool))
    others = {name: cache.read_split(cache_path, name, views) for name in cache.splits(cache_path) if name != "train"}
    in_dev = np.array([item in protocol.dev_ids for item in train.ids], dtype=bool)
    choose = select(train, in_dev) if protocol.choose == "dev" else others["validation"]
    return Rows(fit=select(train, ~in_dev), choose=choose, score=others[protocol.score], others=others)


def read_ids(path: str) -> frozenset[str]:
    """The ids in a file: the `id` column of a CSV with a header (audit.csv), else one per line."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        raise WorkflowError(f"cannot read the exclusion list {path}: {err.strerror or err}") from None
    if lines and "id" in next(csv.reader(lines[:1])):
        column = next(csv.reader(lines[:1])).index("id")
        return frozenset(row[column] for row in csv.reader(lines[1:]) if row)
    return frozenset(line.strip() for line in lines if line.strip())
