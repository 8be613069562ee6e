"""The feature cache: the format (store), work in progress (shards) and safe file writes.

Quick start: `X, y = cache.load("artifacts/features.h5", "train")`.
"""

from cache.atomic import atomic_path, staged, write_text
from cache.store import (
    CacheError,
    CacheWriter,
    SplitData,
    contents,
    ids,
    info,
    labels,
    load,
    read_rows,
    read_split,
    skipped,
    splits,
    verify,
)

__all__ = [
    "CacheError",
    "CacheWriter",
    "SplitData",
    "atomic_path",
    "contents",
    "ids",
    "info",
    "labels",
    "load",
    "read_rows",
    "read_split",
    "skipped",
    "splits",
    "staged",
    "verify",
    "write_text",
]
