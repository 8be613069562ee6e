"""Saved models: the model file plus a JSON record of the cache it was trained on.

Each lives at a fixed place under the output folder (`MODELS`), beside its `.json` record,
each written atomically. Loading a model against a cache with another fingerprint is
refused: its features, split and classes mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import keras

import cache
from extract import backbone

MODELS = {"logreg": "heads/logreg.joblib", "dense": "heads/dense.keras", "finetune": "finetune/model.keras"}
MAKE_TARGET = {"logreg": "make heads", "dense": "make heads", "finetune": "make finetune"}
# What a later stage needs to turn a new image into the features the model was trained on.
RECORDED = ("fingerprint", "class_names", "image_size", "engine", "preprocessing", "model", "weights",
            "weights_sha256")


class HeadMismatchError(cache.CacheError):
    """A saved model does not belong to this cache, or is missing."""


def model_path(out: str | Path, name: str) -> Path:
    return Path(out) / MODELS[name]


def record_of(cache_info: dict, extra: dict | None = None) -> dict:
    return {key: cache_info[key] for key in RECORDED} | (extra or {})


def save(model, out: str | Path, name: str, record: dict) -> Path:
    path = model_path(out, name)
    with cache.atomic_path(path) as tmp:
        if path.suffix == ".keras":
            model.save(tmp)
        else:
            joblib.dump(model, tmp)
    cache.write_text(path.with_suffix(".json"), json.dumps(record, indent=2))
    return path


def load_record(out: str | Path, name: str) -> dict:
    path = model_path(out, name)
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        raise HeadMismatchError(f"no saved {name} model in {out}: run `{MAKE_TARGET[name]}` first")
    return json.loads(meta.read_text())


def load(out: str | Path, name: str, fingerprint: str | None = None):
    """(model, record); with `fingerprint`, refuse a model trained on another cache."""
    record = load_record(out, name)
    if fingerprint is not None and record["fingerprint"] != fingerprint:
        raise HeadMismatchError(
            f"the saved {name} model was trained on cache {record['fingerprint'][:12]}, not on this one "
            f"({fingerprint[:12]}): run `{MAKE_TARGET[name]}` again"
        )
    path = model_path(out, name)
    model = keras.saving.load_model(path) if path.suffix == ".keras" else joblib.load(path)
    return model, record


def backbone_for(record: dict, weights: str, name: str) -> keras.Model:
    """The backbone a saved head was trained on, built from `weights`; other weights are refused."""
    base = backbone.build_backbone(weights, record["image_size"])
    if backbone.weights_sha256(base) != record["weights_sha256"]:
        raise backbone.WeightsError(f"weights {weights!r} are not those the {name} head was trained on "
                                    f"({record['weights']}): pass the same WEIGHTS")
    return base
