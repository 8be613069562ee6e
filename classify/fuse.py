"""Backbone + pooling + head fused into one deployable model (`make export`).

The logistic-regression pipeline becomes a Dense layer with its standardisation folded into
the weights; a one-logit binary head becomes a two-way softmax, so every export maps a
preprocessed image to (N, K) class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

import cache
from cache.lock import holding_lock
from classify import saved
from classify.config import ExportConfig
from extract import engines
from extract.backbone import matching_backbone


def folded_logreg(pipeline) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a Dense layer equal to StandardScaler + LogisticRegression's decision function."""
    scaler, logreg = pipeline.named_steps["scale"], pipeline.named_steps["logreg"]
    kernel = (logreg.coef_ / scaler.scale_).T
    bias = logreg.intercept_ - (logreg.coef_ * (scaler.mean_ / scaler.scale_)).sum(axis=1)
    return kernel, bias


def softmax_layer(kernel: np.ndarray, bias: np.ndarray) -> keras.layers.Dense:
    """A Dense softmax over K classes; one binary logit z becomes softmax([0, z]) = [1 - σ(z), σ(z)]."""
    if kernel.shape[1] == 1:
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.concatenate([np.zeros_like(bias), bias])
    layer = keras.layers.Dense(kernel.shape[1], activation="softmax", name="probabilities")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return layer


def fused_model(out: str | Path, head: str, weights: str | None = None) -> keras.Model:
    """`weights` None: the backbone weights the model's record names."""
    model, record = saved.load(out, head)
    size = record["image_size"]
    if head == "finetune":
        base, head_model = model.layers[-2:]  # finetune.model: [input, base, head]
    else:
        base, head_model = matching_backbone(record, weights, f"the {head} head"), model
    if head == "logreg":
        hidden, (kernel, bias) = [], folded_logreg(model)
    else:
        hidden, (kernel, bias) = head_model.layers[:-1], head_model.layers[-1].get_weights()
    inputs = keras.Input((size, size, 3), name="image")
    x = base(inputs, training=False)
    for layer in hidden:
        x = layer(x, training=False)
    return keras.Model(inputs, softmax_layer(kernel, bias)(x), name=f"mobilenet_v2_{head}")


@holding_lock("make export")
def export(config: ExportConfig, progress: bool = False) -> tuple[Path, Path]:
    """Write the fused model as .keras and .tflite, replacing export/ as one set; their paths."""
    fused = fused_model(config.out, config.head, config.weights)
    with cache.staged(config.paths, "export") as paths:
        with cache.atomic_path(paths.export_keras) as tmp:
            fused.save(tmp)
        with cache.atomic_path(paths.export_tflite) as tmp:
            tmp.write_bytes(engines.to_tflite(fused))
    return config.paths.export_keras, config.paths.export_tflite
