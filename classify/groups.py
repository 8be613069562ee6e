"""Which train images belong together, so that the choice rows (dev) never hold a near-copy of a fit
row: every choice made on a copy of what was fitted rewards memorising. Two sources, joined:

- the audit's confirmed near-copies within train (byte copies and pixel matches in audit.csv),
  where `make audit` ran on this very cache;
- a GROUPS file of `id,group` lines (a patient or a slide id: what no audit can see).

An image's views are rows of that image already, so they never part.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

import cache
from workflow.errors import WorkflowError
from workflow.paths import Paths

COPIES = ("byte copy", "pixel match")  # audit.find.REASONS that are the same picture (not the override)


def read_groups(path: str) -> dict[str, str]:
    """{id: group} from a file of `id,group` lines; one malformed line refuses the whole file."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as err:
        raise WorkflowError(f"cannot read the groups file {path}: {err.strerror or err}") from None
    groups: dict[str, str] = {}
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise WorkflowError(f"{path} line {number}: expected 'id,group', got {','.join(row)!r}")
        item, group = row[0].strip(), row[1].strip()
        if groups.setdefault(item, group) != group:
            raise WorkflowError(f"{path} line {number}: {item} is in group {groups[item]} already, not {group}")
    return groups


def audited_copies(cache_path) -> list[tuple[str, str]]:
    """The confirmed near-copy pairs within train that `make audit` found on this cache (none where it
    has not run, or ran on another cache)."""
    paths = Paths(Path(cache_path).parent)
    try:
        summary = json.loads(paths.audit_json.read_text())
        findings = pd.read_csv(paths.audit_csv, keep_default_na=False)
    except (OSError, ValueError):
        return []
    if summary.get("cache_fingerprint") != cache.info(cache_path)["fingerprint"] or "reason" not in findings:
        return []
    copies = findings[(findings["issue"] == "duplicate") & (findings["split"] == "train")]
    copies = copies[copies["reason"].isin(COPIES)]
    return list(zip(copies["id"], copies["paired_id"], strict=True))


def joined(ids: list[str], given: dict[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """{id: group} of the `ids` in a group of two or more: the given groups and the pairs joined
    (a pair bridges two groups into one). A group is named by the least of its given names, or
    where it has none by its least id: so its name, which decides its side, holds when images are
    added to the cache, or to the group from its far end."""
    parent = {item: item for item in ids}

    def root(item: str) -> str:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    first_of: dict[str, str] = {}
    edges = [(item, first_of.setdefault(group, item)) for item, group in given.items() if item in parent]
    for a, b in edges + [(a, b) for a, b in pairs if a in parent and b in parent]:
        parent[root(a)] = root(b)
    members: dict[str, list[str]] = {}
    for item in ids:
        members.setdefault(root(item), []).append(item)
    name = {}
    for top, group in members.items():
        names = sorted(given[item] for item in group if item in given)
        name[top] = f"given:{names[0]}" if names else f"copies:{min(group)}"
    return {item: name[top] for top, group in members.items() if len(group) > 1 for item in group}
