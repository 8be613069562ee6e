"""Backbone + pooling + head fused into one deployable model (`make export`).

Each head gives its own Keras form (`Head.to_keras`: logistic regression becomes a Dense layer
with its standardisation folded into the weights; a one-logit binary head becomes a two-way
softmax), so every export maps a preprocessed image to (N, K) class probabilities. A head with
no Keras form (k nearest neighbours) is refused in one line.
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
from classify.heads.network import probabilities_model
from classify.protocol import protocol_of
from extract import calibration, engines
from extract.backbone import matching_backbone
from extract.calibration import cached_split
from extract.identity import CALIBRATION_IMAGES
from workflow.paths import FINETUNED


def fused_model(out: str | Path, head: str, weights: str | None = None) -> keras.Model:
    """`weights` None: the backbone weights the model's record names."""
    model, record = saved.load(out, head)
    size = record["image_size"]
    if head == FINETUNED:
        base, network = model.layers[-2:]  # finetune.model: [input, base, head]
        on_features = probabilities_model(network)
    else:
        on_features = model.to_keras()  # refuses a head with no Keras form, before the backbone is built
        base = matching_backbone(record, weights, f"the {head} head")
    inputs = keras.Input((size, size, 3), name="image")
    x = base(inputs, training=False)
    for layer in on_features.layers[1:]:  # past its input
        x = layer(x, training=False)
    return keras.Model(inputs, x, name=f"mobilenet_v2_{head}")


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
    settings = saved.load_record(config.out, config.head)["config"]
    protocol = protocol_of(cache_path, settings["dev_fraction"], settings.get("groups"))
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
        a, b, y, speedup = calibration.side_by_side(*models, rows, size, 32)
    return int8_bytes, {
        "rows": len(y),
        "split": protocol.choose,  # validation, or dev (of train)
        "calibration_images": count,
        "same_class": float(np.mean(a.argmax(1) == b.argmax(1))),
        "max_probability_difference": float(np.abs(a - b).max()),
        "accuracy_float32": float(np.mean(a.argmax(1) == y)),
        "accuracy_int8": float(np.mean(b.argmax(1) == y)),
        "speedup": speedup,
    }
