"""The recipe this project exists to beat: TensorFlow's tutorial trains a head with the frozen
MobileNetV2 inside `model.fit`, so every epoch runs the whole backbone over every image again.
Timed on the cache's own splits, for the same epochs, to compare with features + heads."""

from __future__ import annotations

import json
import time

import keras

import cache
from classify import heads
from extract.backbone import FEATURE_DIM, matching_backbone
from finetune.config import BaselineConfig
from finetune.data import cached_splits
from finetune.model import build_finetune_model
from finetune.tune import evaluate, training_data


def run(config: BaselineConfig, progress: bool = True) -> dict:
    """Train and score the tutorial's frozen-base recipe; metrics in metrics.json's shape (also written)."""
    paths = config.paths
    meta = cache.info(paths.cache)
    n_classes = len(meta["class_names"])
    keras.utils.set_random_seed(config.seed)
    base = matching_backbone(meta, config.weights, "the cache")
    head = heads.build_dense(FEATURE_DIM, n_classes, dropout=0.2)
    model = build_finetune_model(base, head, fine_tune_at=None, augment=config.augment, seed=config.seed)
    heads.compile_dense(model, n_classes, config.learning_rate)
    splits = cached_splits(paths.cache, meta)
    train, validation = training_data(splits, meta, config.batch, config.seed)
    started = time.perf_counter()
    history = model.fit(
        train, validation_data=validation, epochs=config.epochs, verbose=2 if progress else 0, shuffle=False
    )
    seconds = time.perf_counter() - started
    metrics = {
        "tutorial": evaluate(model, splits, meta, config.batch)
        | {
            "train_seconds": seconds,
            "epochs_run": len(history.history["loss"]),
            "cache_fingerprint": meta["fingerprint"],
        }
    }
    cache.write_text(paths.baseline_metrics, json.dumps(metrics, indent=2))
    return metrics
