"""Saved heads: the model file plus a JSON record of the cache it was trained on.

`<name>.keras` or `<name>.joblib` beside `<name>.json`, each written atomically. Loading a
head against a cache with another fingerprint is refused: its features mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import keras

import cache

SUFFIX = {"logreg": ".joblib", "dense": ".keras"}
# What a later stage needs to turn a new image into the features the head was trained on.
RECORDED = ("fingerprint", "class_names", "image_size", "engine", "preprocessing", "model", "weights",
            "weights_sha256")


class HeadMismatchError(cache.CacheError):
    """A saved head does not belong to this cache, or is missing."""


def head_path(directory: str | Path, name: str) -> Path:
    return Path(directory) / f"{name}{SUFFIX[name]}"


def record_of(cache_info: dict, extra: dict | None = None) -> dict:
    return {key: cache_info[key] for key in RECORDED} | (extra or {})


def save(model, directory: str | Path, name: str, record: dict) -> Path:
    path = head_path(directory, name)
    with cache.atomic_path(path) as tmp:
        if name == "dense":
            model.save(tmp)
        else:
            joblib.dump(model, tmp)
    cache.write_text(path.with_suffix(".json"), json.dumps(record, indent=2))
    return path


def load_record(directory: str | Path, name: str) -> dict:
    path = head_path(directory, name)
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        raise HeadMismatchError(f"no saved {name} head in {directory}: run `make heads` first")
    return json.loads(meta.read_text())


def load(directory: str | Path, name: str, fingerprint: str | None = None):
    """(model, record); with `fingerprint`, refuse a head trained on another cache."""
    record = load_record(directory, name)
    if fingerprint is not None and record["fingerprint"] != fingerprint:
        raise HeadMismatchError(
            f"the saved {name} head was trained on cache {record['fingerprint'][:12]}, not on this one "
            f"({fingerprint[:12]}): run `make heads` again"
        )
    path = head_path(directory, name)
    model = keras.saving.load_model(path) if name == "dense" else joblib.load(path)
    return model, record
