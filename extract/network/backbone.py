"""The frozen feature extractor a feature-source record names (`extract.backbones`), in
backend-neutral Keras, and the one check that a model's weights are the ones a cache was built with."""

from __future__ import annotations

import hashlib
import os

import keras

from extract.network.feature_source import FeatureSource, source_in
from extract.reading.online import require_network
from extract.recorded.identity import keras_imagenet_file
from workflow.errors import WorkflowError

# the default backbone's last layer: what synthetic caches and benches size their rows by
FEATURE_DIM = FeatureSource().width


class WeightsError(WorkflowError):
    """The weights cannot be had, do not fit the backbone, or are not the ones a cache was built with."""


def build_backbone(weights: str, image_size: int, source: FeatureSource | None = None) -> keras.Model:
    """The backbone `source` names (by default the default one's last layer) with global average
    pooling of its layers: image_size² inputs, preprocessed as the backbone's `preprocess`, to
    `source.width` features, its blocks concatenated.

    `weights` is "imagenet" (Keras downloads or finds it in $KERAS_HOME/models) or a path to a
    Keras weights file of the backbone without its top: the legacy HDF5 `.h5` Keras downloads,
    or a Keras 3 `.weights.h5`.
    """
    source = source or FeatureSource()
    network = source.network
    offline = f"pass WEIGHTS=<path to {network.title} no-top weights (.h5)>"
    if weights != "imagenet" and not os.path.isfile(weights):
        raise WeightsError(f"no weights file at {weights}")
    if weights == "imagenet" and not keras_imagenet_file(image_size, source.backbone).is_file():
        require_network(f"WEIGHTS=imagenet ({network.title})", offline)
    try:
        return source.build(weights, image_size)
    except Exception as err:  # Keras raises ValueError, OSError, URL errors, KeyError by case
        hint = f"; offline, {offline}" if weights == "imagenet" else ""
        raise WeightsError(
            f"cannot load weights {weights!r} into {network.title} (BACKBONE={network.name}): {_reason(err)}{hint}"
        ) from err


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
    source = source or source_in(record)
    model = source.network.model
    if record.get("model", model) != model:
        raise WeightsError(f"{what} was built on {record['model']}; this version builds {model} for {source.backbone}")
    chosen = weights or record["weights"]
    base = build_backbone(chosen, record["image_size"], source)
    if weights_sha256(base) != record["weights_sha256"]:
        raise WeightsError(
            f"weights {chosen!r} are not those {what} was built with ({record['weights']}): "
            "leave WEIGHTS unset to use those"
        )
    return base
