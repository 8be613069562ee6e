"""The frozen MobileNetV2 feature extractor, in backend-neutral Keras, and the one check that
a model's weights are the ones a cache was built with."""

from __future__ import annotations

import hashlib
import os

import keras

from extract.feature_source import FeatureSource, source_in
from extract.identity import FEATURE_DIM, MODEL_NAME, keras_imagenet_file  # noqa: F401  (re-exported)
from extract.online import require_network
from workflow.errors import WorkflowError


class WeightsError(WorkflowError):
    """The weights cannot be had, do not fit MobileNetV2, or are not the ones a cache was built with."""


def build_backbone(weights: str, image_size: int, source: FeatureSource | None = None) -> keras.Model:
    """MobileNetV2 with global average pooling of the layers `source` names (by default the last):
    image_size² RGB in [-1, 1] to `source.width` features, its blocks concatenated.

    `weights` is "imagenet" (Keras downloads or finds it in $KERAS_HOME/models) or a path
    to a Keras weights file (.h5 or .weights.h5) for MobileNetV2 without its top.
    """
    if weights != "imagenet" and not os.path.isfile(weights):
        raise WeightsError(f"no weights file at {weights}")
    if weights == "imagenet" and not keras_imagenet_file(image_size).is_file():
        require_network("WEIGHTS=imagenet", "pass WEIGHTS=<path to a MobileNetV2 no-top .h5>")
    try:
        return (source or FeatureSource()).build(weights, image_size)
    except Exception as err:  # Keras raises ValueError, OSError, URL errors, KeyError by case
        hint = "; offline, pass WEIGHTS=<path to a MobileNetV2 no-top .h5>" if weights == "imagenet" else ""
        raise WeightsError(f"cannot load MobileNetV2 weights {weights!r}: {_reason(err)}{hint}") from err


def _reason(err: Exception) -> str:
    """The gist of Keras's message: its first line is often only a preamble ending in ':'."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else type(err).__name__)
    return text[:300]


def weights_sha256(model: keras.Model) -> str:
    """sha256 of the loaded weight values: the same for the same weights whatever file held them."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()


def matching_backbone(record: dict, weights: str | None, what: str, source: FeatureSource | None = None) -> keras.Model:
    """The backbone that `record` (a cache's `info`, or a saved model's record) was built on, with
    the feature blocks its feature-source record names (or `source`'s, of the same backbone).

    `weights` None takes the weights the record names; other weights must hold the same values
    (checked by `weights_sha256`), or `WeightsError` says so. Every stage after extraction
    builds its backbone here."""
    if record.get("model", MODEL_NAME) != MODEL_NAME:
        raise WeightsError(f"{what} was built on {record['model']}; this version builds {MODEL_NAME}")
    chosen = weights or record["weights"]
    base = build_backbone(chosen, record["image_size"], source or source_in(record))
    if weights_sha256(base) != record["weights_sha256"]:
        raise WeightsError(
            f"weights {chosen!r} are not those {what} was built with ({record['weights']}): "
            "leave WEIGHTS unset to use those"
        )
    return base
