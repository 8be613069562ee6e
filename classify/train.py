"""`make heads`: read the cache, train each head, score it on every other split, save."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import cache
from classify import heads, plots, saved
from classify.config import HeadConfig
from classify.metrics import score


def run(config: HeadConfig, progress: bool = False) -> dict:
    """Train the chosen heads; returns metrics in metrics.json's shape (also written there).
    (`progress` is unused: the heads train in about a second.)"""
    cache_path = config.paths.cache
    meta = cache.info(cache_path)
    train = cache.read_split(cache_path, "train")
    heads.check_trainable(train.labels, len(meta["class_names"]))
    others = {name: cache.read_split(cache_path, name) for name in cache.splits(cache_path) if name != "train"}
    results = {name: train_head(name, config, meta, train, others) for name in config.heads}
    return write_metrics(config.paths.heads_metrics, results)


def train_head(name: str, config: HeadConfig, meta: dict, train: cache.SplitData, others: dict) -> dict:
    """Train, save and score one head; its entry of metrics.json."""
    n_classes = len(meta["class_names"])
    validation = others.get("validation")
    started = time.perf_counter()
    if name == "logreg":
        model, extra = heads.train_logreg(config, train.features, train.labels)
    else:
        model, history = heads.train_dense(
            config,
            (train.features, train.labels),
            None if validation is None else (validation.features, validation.labels),
            n_classes,
        )
        extra = {"epochs_run": len(history["loss"])}
    seconds = time.perf_counter() - started
    saved.save(model, config.out, name, saved.record_of(meta, {"head": name, "config": asdict(config)}))
    if name == "dense":
        cache.write_text(config.paths.dense_history, json.dumps(history))
        plots.learning_curves(history, config.paths.dense_curve, f"Dense head on cached features ({meta['dataset']})")
    return (
        {split: score(probabilities(name, model, data.features), data.labels) for split, data in others.items()}
        | {"train_seconds": seconds, "cache_fingerprint": meta["fingerprint"]}
        | extra
    )


def probabilities(name: str, model, features: np.ndarray) -> np.ndarray:
    if name == "dense":
        return heads.dense_probabilities(model, features)
    return heads.logreg_probabilities(model, features)


def write_metrics(path: Path, results: dict) -> dict:
    """Merge into an existing metrics file, keeping other methods' entries for the same cache."""
    fingerprint = next(iter(results.values()))["cache_fingerprint"]
    merged = {}
    if path.exists():
        try:
            merged = {
                k: v for k, v in json.loads(path.read_text()).items() if v.get("cache_fingerprint") == fingerprint
            }
        except (json.JSONDecodeError, AttributeError):
            merged = {}
    merged |= results
    cache.write_text(path, json.dumps(merged, indent=2))
    return merged
