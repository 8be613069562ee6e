"""Saved models: the model file plus a JSON record of the cache it was trained on.

Each lives where `workflow.paths.Paths.model` says, beside its `.json` record, each written
atomically; the record holds the model file's sha256, and a file that no longer matches it is
refused as damaged. Loading a model against a cache with another fingerprint is refused: its features,
split and classes mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import keras

import cache
from extract.identity import file_sha256
from workflow.errors import WorkflowError
from workflow.paths import MAKE_TARGET, Paths

# What a later stage needs to turn a new image into the features the model was trained on.
RECORDED = (
    "fingerprint",
    "class_names",
    "image_size",
    "engine",
    "preprocessing",
    "model",
    "feature_source",
    "weights",
    "weights_sha256",
    "views",
    "view_policy",
    "precision",
    "calibration",
)


class HeadMismatchError(cache.CacheError):
    """A saved model does not belong to this cache, or is missing."""


class ProtocolMismatchError(WorkflowError):
    """A saved head was fitted and chosen on other rows than a stage that starts from it would use."""


PROTOCOL_NAMES = {  # each key of `classify.protocol.recorded`, as a sentence names it
    "choose": "choice rows",
    "dev_fraction": "dev fraction (DEV_FRACTION)",
    "excluded_ids": "excluded train ids (EXCLUDE)",
    "class_weight": "class weights (CLASS_WEIGHT)",
}


def check_protocol(record: dict, current: dict, name: str = "dense") -> None:
    """Refuse, in one line naming the difference, a saved head whose protocol (its record's
    `protocol`, from `classify.protocol.recorded`) is not `current`: a stage starting from it would
    choose on rows it was fitted on, or fit on rows it left out."""
    saved_protocol = record.get("protocol")
    if saved_protocol is None:
        raise ProtocolMismatchError(
            f"the saved {name} head does not record the protocol it was trained under: run `{MAKE_TARGET[name]}` again"
        )
    differences = [
        f"{PROTOCOL_NAMES.get(key, key)} {_shown(saved_protocol.get(key))}, not {_shown(current.get(key))}"
        for key in sorted(set(saved_protocol) | set(current))
        if saved_protocol.get(key) != current.get(key)
    ]
    if differences:
        raise ProtocolMismatchError(
            f"the saved {name} head was trained with {'; '.join(differences)} as here: "
            f"run `{MAKE_TARGET[name]}` with the same settings first"
        )


def _shown(value) -> str:
    return value[:12] if isinstance(value, str) and len(value) > 12 else f"{value}"


def record_of(cache_info: dict, extra: dict | None = None) -> dict:
    """What a saved model records of the cache it was trained on (views: 1 for a cache made in Python)."""
    defaults = {"views": 1, "view_policy": "flip", "precision": "float32", "calibration": ""}
    return {key: cache_info.get(key, defaults.get(key)) for key in RECORDED} | (extra or {})


def save(model, paths: Paths, name: str, record: dict) -> Path:
    path = paths.model(name)
    with cache.atomic_path(path) as tmp:
        if path.suffix == ".keras":
            model.save(tmp)
        else:
            joblib.dump(model, tmp)
        record = record | {"file_sha256": file_sha256(tmp)}  # checked on every load
    cache.write_text(paths.record(name), json.dumps(record, indent=2))
    return path


def load_record(out: str | Path, name: str) -> dict:
    paths = Paths(out)
    if not paths.model(name).exists() or not paths.record(name).exists():
        raise HeadMismatchError(f"no saved {name} model in {out}: run `{MAKE_TARGET[name]}` first")
    return json.loads(paths.record(name).read_text())


def load(out: str | Path, name: str, fingerprint: str | None = None):
    """(model, record); with `fingerprint`, refuse a model trained on another cache."""
    record = load_record(out, name)
    if fingerprint is not None and record["fingerprint"] != fingerprint:
        raise HeadMismatchError(
            f"the saved {name} model was trained on cache {record['fingerprint'][:12]}, not on this one "
            f"({fingerprint[:12]}): run `{MAKE_TARGET[name]}` again"
        )
    path = Paths(out).model(name)
    if file_sha256(path) != record.get("file_sha256"):
        raise HeadMismatchError(
            f"{path} is damaged (it does not match the checksum in its record): run `{MAKE_TARGET[name]}` again"
        )
    # compile=False: a later stage compiles afresh (fine-tuning) or only predicts
    model = keras.saving.load_model(path, compile=False) if path.suffix == ".keras" else joblib.load(path)
    return model, record
