"""Backbone + pooling + head fused into one deployable model (`make export`).

The logistic-regression pipeline becomes a Dense layer with its standardisation folded into
the weights; a one-logit binary head becomes a two-way softmax, so every export maps a
preprocessed image to (N, K) class probabilities.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import keras
import numpy as np

import cache
from cache.lock import holding_lock
from classify import saved
from classify.config import ExportConfig
from classify.protocol import protocol_of
from extract import calibration, engines
from extract.backbone import matching_backbone
from extract.calibration import cached_split
from extract.identity import CALIBRATION_IMAGES


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
def export(config: ExportConfig, progress: bool = False) -> list[Path]:
    """Write the fused model as .keras and .tflite (and, for int8, model.int8.tflite with its
    agreement in export.json), replacing export/ as one set; their paths."""
    fused = fused_model(config.out, config.head, config.weights)
    record = saved.load_record(config.out, config.head) | {"head": config.head, "export_precision": config.precision}
    float_bytes = engines.to_tflite(fused)
    written = [config.paths.export_keras, config.paths.export_tflite, config.paths.export_record]
    if config.precision == "int8":
        int8_bytes, record["agreement"] = int8_export(config, fused, float_bytes)
        written.append(config.paths.export_int8)
    with cache.staged(config.paths, "export") as paths:
        with cache.atomic_path(paths.export_keras) as tmp:
            fused.save(tmp)
        with cache.atomic_path(paths.export_tflite) as tmp:
            tmp.write_bytes(float_bytes)
        if config.precision == "int8":
            with cache.atomic_path(paths.export_int8) as tmp:
                tmp.write_bytes(int8_bytes)
        cache.write_text(paths.export_record, json.dumps(record, indent=2))
    return written


def int8_export(config: ExportConfig, fused: keras.Model, float_bytes: bytes) -> tuple[bytes, dict]:
    """The fused model in full integer, calibrated on the cache's train images as `PRECISION=int8`
    extraction is, and its agreement with the float export on the cache's choice rows: the share
    of images given the same class, the largest probability difference, and each one's accuracy."""
    cache_path = config.paths.cache
    meta = cache.info(cache_path)
    count = meta["extract_config"].get("calibration", CALIBRATION_IMAGES)
    size = fused.input_shape[1]
    int8_bytes = engines.to_tflite(fused, calibration.of_split(cached_split(cache_path, "train"), count, size).samples)
    # the head's choice rows: train's dev rows where there is no test split (the rest of train fitted the head)
    protocol = protocol_of(cache_path, saved.load_record(config.out, config.head)["config"]["dev_fraction"])
    choose = "validation" if protocol.choose == "validation" else "train"
    rows = cached_split(cache_path, choose)
    if protocol.choose == "dev":
        rows = calibration.subset(rows, [i for i, item in enumerate(rows.ids) if item in protocol.dev_ids])
    rows = calibration.subset(rows, calibration.check_positions(rows))
    with tempfile.TemporaryDirectory() as folder:
        models = []
        for name, content in (("float", float_bytes), ("int8", int8_bytes)):
            (Path(folder) / name).write_bytes(content)
            models.append(engines.TFLiteEngine(Path(folder) / name, 32))
        probs = {name: [] for name in ("float", "int8")}
        labels = []
        for positions, batch in calibration.images(rows, size):
            for name, model in zip(probs, models, strict=True):
                probs[name].append(model(batch))
            labels.append(rows.labels[positions])
    a, b, y = np.concatenate(probs["float"]), np.concatenate(probs["int8"]), np.concatenate(labels)
    return int8_bytes, {
        "rows": len(y),
        "split": protocol.choose,  # validation, or dev (of train)
        "calibration_images": count,
        "same_class": float(np.mean(a.argmax(1) == b.argmax(1))),
        "max_probability_difference": float(np.abs(a - b).max()),
        "accuracy_float32": float(np.mean(a.argmax(1) == y)),
        "accuracy_int8": float(np.mean(b.argmax(1) == y)),
    }
