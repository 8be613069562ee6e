"""Which rows train a model, which rows make its choices, and which rows score it: the one
protocol every method (heads, fine-tuning, the tutorial's recipe) follows, so no choice ever
sees the split the verdict is scored on.

- **score**: `test` when the cache has it, else `validation`.
- **choose** (early stopping, the best epoch, the best run): `validation` when a test split
  exists; otherwise `dev`, a part of train: per class, the `dev_fraction` of its train images
  with the lowest sha256 of their id (`extract.recorded.holdout`, the rule the int8 build's samples follow
  too). Images that belong together (`classify.groups`: the audit's confirmed near-copies, a
  GROUPS file) are drawn as one, by the sha256 of their group: a choice never rewards remembering
  a fit row's copy.
- **fit**: train, less dev. Logistic regression's C is chosen by cross-validation on these rows.

This is the discipline of linear-probe versus fine-tuning studies (Kornblith et al. 2019, VTAB).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

import cache
from classify import groups
from classify.part import Loaded, Part
from extract.reading.hashes import digest
from extract.recorded.holdout import dev_ids
from workflow.errors import WorkflowError

Data = TypeVar("Data", Part, Loaded)


@dataclass(frozen=True)
class Protocol:
    choose: str  # "validation" or "dev"
    score: str  # "test" or "validation"
    dev_fraction: float  # of train, per class; 0 when choices use validation
    dev_ids: frozenset[str]
    groups: int = 0  # dev: the groups of two or more train images, each kept on one side
    grouping: str = digest([])  # dev: a digest of which images were grouped

    def describe(self) -> dict:
        """What metrics.json and the report say about it."""
        if self.choose == "validation":
            return {"fit": "train", "choose": "validation", "score": self.score}
        kept = f"; {self.groups} groups of near-copies or GROUPS kept whole" if self.groups else ""
        dev = f"dev ({self.dev_fraction:g} of each class's train images, by hash of id{kept})"
        return {"fit": "train less dev", "choose": dev, "score": self.score, "groups": self.groups}


def recorded(protocol: Protocol, class_weight: str, excluded: frozenset[str] = frozenset()) -> dict:
    """What decides a model's fit and choice rows, and how it weighs them, beyond the cache, as a
    saved head records it: `saved.check_protocol` compares it before fine-tuning starts from the
    head. `excluded`: the train ids left out. A dict, so that a later setting is one more key."""
    return {
        "choose": protocol.choose,
        "dev_fraction": protocol.dev_fraction,
        "excluded_ids": digest(sorted(excluded)),
        "groups": protocol.grouping,
        "class_weight": class_weight,
    }


def protocol_of(cache_path, dev_fraction: float, groups_file: str | None = None) -> Protocol:
    """The protocol for a cache's splits; without a test split, dev keeps together the audit's
    confirmed near-copies and the groups of `groups_file` (`classify.groups`)."""
    names = cache.splits(cache_path)
    if "validation" not in names:
        raise cache.CacheError(f"{cache_path} has no validation split ({names}): a verdict needs one to score")
    given = groups.read_groups(groups_file) if groups_file else {}  # read, so a malformed one is refused always
    if "test" in names:
        return Protocol(choose="validation", score="test", dev_fraction=0.0, dev_ids=frozenset())
    ids, labels = cache.ids(cache_path, "train"), cache.labels(cache_path, "train")
    group_of = groups.joined(ids, given, groups.audited_copies(cache_path))
    return Protocol(
        choose="dev",
        score="validation",
        dev_fraction=dev_fraction,
        dev_ids=dev_ids(ids, labels, dev_fraction, group_of),
        groups=len(set(group_of.values())),
        grouping=digest(sorted(group_of.items())),
    )


@dataclass
class Rows(Generic[Data]):
    fit: Data
    choose: Data
    score: Data
    others: dict[str, Data]  # every split but train, by name, each scored for metrics.json

    def only(self, layers: tuple[str, ...], blocks: dict[str, int]) -> Rows[Data]:
        """The same rows with only the feature blocks `layers` (`blocks`: the cache's {name: width})."""
        return Rows(
            *(part.only(layers, blocks) for part in (self.fit, self.choose, self.score)),
            {name: part.only(layers, blocks) for name, part in self.others.items()},
        )


def parts_of(cache_path, protocol: Protocol, exclude: frozenset[str] = frozenset()) -> Rows[Part]:
    """Each role's rows, not yet read; `exclude`d ids leave train (fit and dev)."""
    others = {name: Part.whole(cache_path, name) for name in cache.splits(cache_path) if name != "train"}
    train = Part.whole(cache_path, "train")
    if not exclude and protocol.choose == "validation":  # train is the fit rows: no names read, no copy
        return Rows(fit=train, choose=others["validation"], score=others[protocol.score], others=others)
    ids = cache.ids(cache_path, "train")
    train = train.subset(np.array([item not in exclude for item in ids], dtype=bool))
    in_dev = np.array([ids[i] in protocol.dev_ids for i in train.positions], dtype=bool)
    choose = train.subset(in_dev) if protocol.choose == "dev" else others["validation"]
    return Rows(fit=train.subset(~in_dev), choose=choose, score=others[protocol.score], others=others)


def rows_of(cache_path, protocol: Protocol, exclude: frozenset[str] = frozenset(), views: bool = False) -> Rows[Loaded]:
    """`parts_of`, read into memory. With `views`, features are (N, K, D): each image, then its
    augmented views."""
    parts = parts_of(cache_path, protocol, exclude)
    others = {name: part.load(views) for name, part in parts.others.items()}
    choose = others["validation"] if protocol.choose == "validation" else parts.choose.load(views)
    return Rows(fit=parts.fit.load(views), choose=choose, score=others[protocol.score], others=others)


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
