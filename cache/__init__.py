"""The feature cache: the format (store), work in progress (shards) and safe file writes.

Quick start: `X, y = cache.load("artifacts/features.h5", "train")`.
"""

from cache.atomic import atomic_path, write_text
from cache.store import CacheError, CacheWriter, SplitData, ids, info, load, read_split, skipped, splits

__all__ = [
    "CacheError",
    "CacheWriter",
    "SplitData",
    "atomic_path",
    "ids",
    "info",
    "load",
    "read_split",
    "skipped",
    "splits",
    "write_text",
]
