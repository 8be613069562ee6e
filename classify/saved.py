"""Saved models: the model file plus a JSON record of the cache it was trained on.

Each lives where `workflow.paths.Paths.model` says, beside its `.json` record, each written
atomically; the record holds the model file's sha256, and a file that no longer matches it is
refused as damaged. Loading a model against a cache with another fingerprint is refused: its features,
split and classes mean something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

import cache
from classify.heads import REGISTRY
from extract.recorded.identity import file_sha256
from workflow.errors import WorkflowError
from workflow.paths import FINETUNED, Paths

# What a later stage needs to turn a new image into the features the model was trained on.
RECORDED = (
    "fingerprint",
    "class_names",
    "image_size",
    "engine",
    "preprocessing",
    "model",
    "feature_source",
    "blocks",  # the cache's {name: width}: an int8 head reads its blocks' columns of the cache's engine
    "weights",
    "weights_sha256",
    "views",
    "view_policy",
    "precision",
    "calibration",
)


def model_path(paths: Paths, name: str) -> Path:
    """A head's file (its suffix is the head's), or the fine-tuned model's."""
    return paths.model(name, REGISTRY[name].suffix) if name in REGISTRY else paths.model(name)


def record_path(paths: Paths, name: str) -> Path:
    return model_path(paths, name).with_suffix(".json")


def make_target(name: str) -> str:
    """The command that makes a saved model."""
    return "make finetune" if name == FINETUNED else "make heads"


class HeadMismatchError(cache.CacheError):
    """A saved model does not belong to this cache, or is missing."""


class ProtocolMismatchError(WorkflowError):
    """A saved head was fitted and chosen on other rows than a stage that starts from it would use."""


PROTOCOL_NAMES = {  # each key of `classify.protocol.recorded`, as a sentence names it
    "choose": "choice rows",
    "dev_fraction": "dev fraction (DEV_FRACTION)",
    "excluded_ids": "excluded train ids (EXCLUDE)",
    "groups": "groups kept whole in dev (GROUPS, the audit's near-copies)",
    "class_weight": "class weights (CLASS_WEIGHT)",
}


def check_protocol(record: dict, current: dict, name: str) -> None:
    """Refuse, in one line naming the difference, a saved head whose protocol (its record's
    `protocol`, from `classify.protocol.recorded`) is not `current`: a stage starting from it would
    choose on rows it was fitted on, or fit on rows it left out."""
    saved_protocol = record.get("protocol")
    if saved_protocol is None:
        raise ProtocolMismatchError(
            f"the saved {name} head does not record the protocol it was trained under: run `{make_target(name)}` again"
        )
    differences = [
        f"{PROTOCOL_NAMES.get(key, key)} {_shown(saved_protocol.get(key))}, not {_shown(current.get(key))}"
        for key in sorted(set(saved_protocol) | set(current))
        if saved_protocol.get(key) != current.get(key)
    ]
    if differences:
        raise ProtocolMismatchError(
            f"the saved {name} head was trained with {'; '.join(differences)} as here: "
            f"run `{make_target(name)}` with the same settings first"
        )


def _shown(value) -> str:
    return value[:12] if isinstance(value, str) and len(value) > 12 else f"{value}"


def record_of(cache_info: dict, extra: dict | None = None) -> dict:
    """What a saved model records of the cache it was trained on (views: 1 for a cache made in Python)."""
    defaults = {"views": 1, "view_policy": "flip", "precision": "float32", "calibration": ""}
    return {key: cache_info.get(key, defaults.get(key)) for key in RECORDED} | (extra or {})


def save(model, paths: Paths, name: str, record: dict) -> Path:
    """`model`: a head (`classify.heads.Head`) or the fine-tuned Keras model, each saving itself."""
    path = model_path(paths, name)
    with cache.atomic_path(path) as tmp:
        model.save(tmp)
        record = record | {"file_sha256": file_sha256(tmp)}  # checked on every load
    cache.write_text(record_path(paths, name), json.dumps(record, indent=2))
    return path


def load_record(out: str | Path, name: str) -> dict:
    paths = Paths(out)
    if not model_path(paths, name).exists() or not record_path(paths, name).exists():
        raise HeadMismatchError(f"no saved {name} model in {out}: run `{make_target(name)}` first")
    return json.loads(record_path(paths, name).read_text())


def load(out: str | Path, name: str, fingerprint: str | None = None):
    """(model, record): a head (`classify.heads.Head`), or the fine-tuned Keras model; with
    `fingerprint`, refuse a model trained on another cache."""
    record = load_record(out, name)
    if fingerprint is not None and record["fingerprint"] != fingerprint:
        raise HeadMismatchError(
            f"the saved {name} model was trained on cache {record['fingerprint'][:12]}, not on this one "
            f"({fingerprint[:12]}): run `{make_target(name)}` again"
        )
    path = model_path(Paths(out), name)
    if file_sha256(path) != record.get("file_sha256"):
        raise HeadMismatchError(
            f"{path} is damaged (it does not match the checksum in its record): run `{make_target(name)}` again"
        )
    if name in REGISTRY:
        return REGISTRY[name].load(path), record
    # compile=False: a later stage compiles afresh or only predicts
    return keras.saving.load_model(path, compile=False), record
