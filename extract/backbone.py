"""The frozen MobileNetV2 feature extractor, in backend-neutral Keras."""

from __future__ import annotations

import hashlib
import os

import keras

FEATURE_DIM = 1280
MODEL_NAME = "MobileNetV2(alpha=1.0, include_top=False, pooling=avg)"


class WeightsError(Exception):
    """The weights cannot be had or do not fit MobileNetV2."""


def build_backbone(weights: str, image_size: int) -> keras.Model:
    """MobileNetV2 with global average pooling: image_size² RGB in [-1, 1] to 1280-d features.

    `weights` is "imagenet" (Keras downloads or finds it in $KERAS_HOME/models) or a path
    to a Keras weights file (.h5 or .weights.h5) for MobileNetV2 without its top.
    """
    if weights != "imagenet" and not os.path.isfile(weights):
        raise WeightsError(f"no weights file at {weights}")
    try:
        return keras.applications.MobileNetV2(
            input_shape=(image_size, image_size, 3), include_top=False, weights=weights, pooling="avg"
        )
    except Exception as err:  # Keras raises ValueError, OSError, URL errors, KeyError by case
        hint = "; offline, pass WEIGHTS=<path to a MobileNetV2 no-top .h5>" if weights == "imagenet" else ""
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise WeightsError(f"cannot load MobileNetV2 weights {weights!r}: {first_line}{hint}") from err


def weights_sha256(model: keras.Model) -> str:
    """sha256 of the loaded weight values: the same for the same weights whatever file held them."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()
