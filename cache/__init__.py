"""The feature cache: the format (store), work in progress (shards) and safe file writes.

Quick start: `X, y = cache.load("artifacts/features.h5", "train")`.
"""

from cache.atomic import atomic_path, staged, write_text
from cache.store import (
    CacheError,
    CacheWriter,
    SplitData,
    SplitFile,
    contents,
    ids,
    info,
    labels,
    load,
    read_rows,
    read_split,
    reading,
    skipped,
    splits,
    verify,
)

__all__ = [
    "CacheError",
    "CacheWriter",
    "SplitData",
    "SplitFile",
    "atomic_path",
    "contents",
    "ids",
    "info",
    "labels",
    "load",
    "read_rows",
    "read_split",
    "reading",
    "skipped",
    "splits",
    "staged",
    "verify",
    "write_text",
]
