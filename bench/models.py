"""The model every engine row of the bench times: the backbone with extraction's default feature
blocks (LAYERS' default), so that a row's bare forward is the forward its builds run, and the rows
share one TFLite conversion per size and precision (engines are keyed by their layers)."""

from __future__ import annotations

import keras

from extract.network import backbone
from extract.network.feature_source import DEFAULT_LAYERS, source_of


def extraction_model(weights: str, size: int) -> keras.Model:
    return backbone.build_backbone(weights, size, source_of(DEFAULT_LAYERS))
