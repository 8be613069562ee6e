"""Stable samples of ids: orders drawn from a hash of each id, so a sample never depends on the
listing and an added file takes its own place without moving any other.

`hash_order` (ascending sha256) is the order every stable sample is drawn in: `LIMIT`'s subset and
the dev rows (`extract.recorded.holdout`) from its front, the int8 calibration images from its back.
`in_row_order` is the salted order a split's rows are stored in; `quotas` shares a sample among
classes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np


def name_bytes(name: str) -> bytes:
    """A file name's own bytes: names that are not valid UTF-8 arrive surrogate-escaped (PEP 383)."""
    return name.encode("utf-8", "surrogateescape")


def hash_order(ids: list[str]) -> list[int]:
    """Positions of `ids`, by ascending sha256 of each id's bytes."""
    return sorted(range(len(ids)), key=lambda i: hashlib.sha256(name_bytes(ids[i])).digest())


def quotas(total: int, sizes: np.ndarray, least: int = 1) -> np.ndarray:
    """How many of each class a stratified sample of about `total` takes: at least `least` of each
    (all of a class with fewer), the rest in proportion to the sizes (largest remainders)."""
    floor = np.minimum(sizes, least)
    rest, room = max(0, total - int(floor.sum())), sizes - floor
    exact = rest * room / max(1, room.sum())
    shares = np.floor(exact).astype(np.int64)
    shares[np.argsort(shares - exact, kind="stable")[: rest - int(shares.sum())]] += 1
    return floor + np.minimum(shares, room)


def in_row_order(items: list, key: Callable = lambda item: item) -> list:
    """`items` in the order a split's rows are stored: a fixed pseudo-random order by a hash of each
    id, so that any contiguous run of rows (a block a streaming head reads, a shard) is a random
    sample of the split. The listing puts each class's files together, and a reader that took
    blocks of it would see one class at a time. Salted, so it is independent of the 80/10/10
    split, `LIMIT` and dev, which rank the same ids by their sha256; an added file takes its own
    place and moves no other."""
    return sorted(items, key=lambda item: hashlib.blake2b(name_bytes(key(item)), person=b"row order").digest())
