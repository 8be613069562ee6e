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
from extract.network import calibration, engines
from extract.network.backbone import matching_backbone
from extract.network.calibration import cached_split
from extract.network.feature_source import recorded_source, source_in
from extract.recorded.identity import CALIBRATION_IMAGES
from workflow.paths import FINETUNED


def fused_model(out: str | Path, head: str, weights: str | None = None, backbone: str | None = None) -> keras.Model:
    """`weights` None: the backbone weights the model's record names; `backbone` (BACKBONE), where
    set, must be the one it names."""
    model, record = saved.load(out, head)
    recorded_source(record, backbone, f"the {head} model")
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
    return keras.Model(inputs, x, name=f"{source_in(record).backbone}_{head}")


@holding_lock("make export")
def export(config: ExportConfig, progress: bool = False) -> list[Path]:
    """Write the fused model as .keras and .tflite (and, for int8, model.int8.tflite with its
    agreement in export.json), replacing export/ as one set; their paths. For a head trained on an
    int8 cache, export.json also says that model.tflite holds a float32 backbone under it, and how
    often each file gives `make predict`'s class (the cache's int8 engine under the head)."""
    fused = fused_model(config.out, config.head, config.weights, config.backbone)
    record = saved.load_record(config.out, config.head) | {"head": config.head, "export_precision": config.precision}
    float_bytes = engines.to_tflite(fused)
    written = [config.paths.export_keras, config.paths.export_tflite, config.paths.export_record]
    trained_int8 = record.get("precision") == "int8" and config.head != FINETUNED  # fine-tuning trains on images
    rows = check_rows(config) if config.precision == "int8" or trained_int8 else None
    files = {config.paths.export_tflite.name: float_bytes}
    if config.precision == "int8":
        int8_bytes, record["agreement"] = int8_export(config, fused, float_bytes, rows)
        files[config.paths.export_int8.name] = int8_bytes
        written.append(config.paths.export_int8)
    if trained_int8:
        record["backbone_precision"] = {
            config.paths.export_tflite.name: "float32",
            "features the head was trained on": "int8",
        }
        record["agreement_with_predict"] = with_predict(config, files, rows)
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


def check_rows(config: ExportConfig) -> calibration.Int8Rows:
    """The head's fit rows (calibration) and choice rows (checks) in the cache, as `PRECISION=int8`
    extraction draws them: train's dev rows choose where there is no test split."""
    cache_path = config.paths.cache
    count = cache.info(cache_path)["extract_config"].get("calibration", CALIBRATION_IMAGES)
    dev_fraction = saved.load_record(config.out, config.head)["config"]["dev_fraction"]
    splits = [cached_split(cache_path, name) for name in cache.splits(cache_path)]
    return calibration.int8_rows(splits, count, dev_fraction)


def int8_export(
    config: ExportConfig, fused: keras.Model, float_bytes: bytes, rows: calibration.Int8Rows
) -> tuple[bytes, dict]:
    """The fused model in full integer, calibrated on the cache's fit rows as `PRECISION=int8`
    extraction is, and its agreement with the float export on the cache's choice rows: the share
    of images given the same class, the largest probability difference, and each one's accuracy."""
    count = cache.info(config.paths.cache)["extract_config"].get("calibration", CALIBRATION_IMAGES)
    size = fused.input_shape[1]
    backbone = source_in(saved.load_record(config.out, config.head)).backbone
    int8_bytes = engines.to_tflite(fused, calibration.of_rows(rows, count, size, backbone).samples)
    with tempfile.TemporaryDirectory() as folder:
        models = []
        for name, content in (("float", float_bytes), ("int8", int8_bytes)):
            (Path(folder) / name).write_bytes(content)
            models.append(engines.TFLiteEngine(Path(folder) / name, 32))
        a, b, y, speedup = calibration.side_by_side(
            *models, calibration.subset(rows.choice, rows.check), size, backbone, 32
        )
    return int8_bytes, rows.record() | {
        "same_class": float(np.mean(a.argmax(1) == b.argmax(1))),
        "max_probability_difference": float(np.abs(a - b).max()),
        "accuracy_float32": float(np.mean(a.argmax(1) == y)),
        "accuracy_int8": float(np.mean(b.argmax(1) == y)),
        "speedup": speedup,
    }


def with_predict(config: ExportConfig, files: dict[str, bytes], rows: calibration.Int8Rows) -> dict:
    """{file name: the share of the choice rows it gives `make predict`'s class, and the largest
    probability difference}: a head trained on int8 features, fused onto a float32 backbone, sees
    other features than it was trained on (98.0% of 400 photos agree: BENCHMARKS.md, issue 34).
    `make predict` on a cached image is the head on the cache's int8 features of it, read here."""
    model, record = saved.load(config.out, config.head)
    features = cache.read_split(config.paths.cache, rows.choice.name, blocks=record["feature_source"]["layers"])
    predicted = model.predict_proba(features.features[rows.check])
    with tempfile.TemporaryDirectory() as folder:
        outputs = {}
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
            engine = engines.TFLiteEngine(Path(folder) / name, 32)
            choice = calibration.subset(rows.choice, rows.check)
            images = calibration.images(choice, record["image_size"], source_in(record).backbone)
            outputs[name] = np.concatenate([engine(inputs) for _, inputs in images])
    result = {"rows": len(predicted), "split": rows.record()["split"]}
    for name, found in outputs.items():
        result[name] = {
            "same_class": float(np.mean(found.argmax(1) == predicted.argmax(1))),
            "max_probability_difference": float(np.abs(found - predicted).max()),
        }
    return result
