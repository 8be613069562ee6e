"""`make finetune`: warm-start from the Dense head, train the top of MobileNetV2 end to end,
resume after an interruption, keep the best epoch, score on the cache's own splits."""

from __future__ import annotations

import csv
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

import cache
from classify import heads, plots, saved
from classify.metrics import score
from extract import engines
from extract.backbone import matching_backbone
from finetune.config import FinetuneConfig
from finetune.data import cached_splits, image_dataset
from finetune.model import build_finetune_model


class EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs, so the CSV history keeps it across resumes."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["seconds"] = time.perf_counter() - self._started


def run(config: FinetuneConfig, progress: bool = True) -> dict:
    """Fine-tune, resuming an interrupted run; metrics in metrics.json's shape (also written)."""
    paths = config.paths
    meta = cache.info(paths.cache)
    head, record = saved.load(config.out, "dense", meta["fingerprint"])
    n_classes = len(meta["class_names"])
    if engines.has_gpu():  # before any layer is built: the policy applies to layers made after it
        keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(config.seed)
    base = matching_backbone(meta, config.weights, "the cache")
    model = build_finetune_model(base, head, config.fine_tune_at, config.augment, config.seed)
    learning_rate = config.learning_rate or record["config"]["learning_rate"] / 10
    heads.compile_dense(model, n_classes, learning_rate)

    splits = cached_splits(paths.cache, meta)
    train, validation = training_data(splits, meta, config.batch, config.seed)

    paths.finetune.mkdir(parents=True, exist_ok=True)
    backup, history_csv, best = paths.finetune_backup, paths.finetune_history, paths.finetune_best
    resuming = backup.exists() and history_csv.exists()
    if not resuming:  # leftovers of a finished or different run
        shutil.rmtree(backup, ignore_errors=True)
        history_csv.unlink(missing_ok=True)
        best.unlink(missing_ok=True)
    monitor = "val_loss" if validation is not None else "loss"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        EpochSeconds(),
        keras.callbacks.ModelCheckpoint(
            str(best),
            monitor=monitor,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=_best_so_far(history_csv, monitor),
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
    ]
    model.fit(
        train,
        validation_data=validation,
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=2 if progress else 0,
        shuffle=False,
    )  # the dataset shuffles itself
    history = _read_history(history_csv)
    if best.exists():
        model.load_weights(best)

    results = evaluate(model, splits, meta, config.batch) | {
        "train_seconds": float(sum(history["seconds"])),
        "epochs_run": len(history["loss"]),
        "best_epoch": int(np.argmin(history[monitor])) + 1,
        "learning_rate": learning_rate,
        "fine_tune_at": config.fine_tune_at,
        "cache_fingerprint": meta["fingerprint"],
    }
    saved.save(model, config.out, "finetune", saved.record_of(meta, {"head": "finetune", "config": asdict(config)}))
    metrics = {"finetune": results}
    cache.write_text(paths.finetune_metrics, json.dumps(metrics, indent=2))
    _plot(history, paths.dense_history, paths.finetune_curve)
    return metrics


def training_data(splits: dict, meta: dict, batch: int, seed: int):
    """(shuffled train batches, validation batches or None)."""
    binary = len(meta["class_names"]) == 2
    train = image_dataset(*splits["train"], meta["image_size"], batch, binary, shuffle_seed=seed)
    validation = (
        image_dataset(*splits["validation"], meta["image_size"], batch, binary) if "validation" in splits else None
    )
    return train, validation


def evaluate(model: keras.Model, splits: dict, meta: dict, batch: int) -> dict:
    """metrics.json entries for every split but train."""
    binary = len(meta["class_names"]) == 2
    return {
        name: score(
            heads.probabilities_of_outputs(
                model.predict(image_dataset(split, keep, meta["image_size"], batch, binary), verbose=0)
            ),
            split.labels[keep],
        )
        for name, (split, keep) in splits.items()
        if name != "train"
    }


def _read_history(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"} if rows else {}


def _best_so_far(path: Path, monitor: str) -> float | None:
    """A resumed run's checkpoint must beat the epochs before the interruption, not start afresh."""
    if not path.exists():
        return None
    values = _read_history(path).get(monitor)
    return min(values) if values else None


def _plot(history: dict, frozen_history_path: Path, path: Path) -> None:
    """The frozen-head phase (from `make heads`) then fine-tuning, marked where it starts."""
    frozen = json.loads(frozen_history_path.read_text()) if frozen_history_path.exists() else {}
    keys = [k for k in ("accuracy", "loss", "val_accuracy", "val_loss") if k in history]
    combined = {k: frozen.get(k, []) + history[k] for k in keys}
    if any(len(v) != len(combined["loss"]) for v in combined.values()):
        combined = {k: history[k] for k in keys}
        frozen = {}
    starts = {"fine-tuning starts": len(frozen.get("loss", []))} if frozen else None
    plots.learning_curves(combined, path, "Frozen head on cached features, then fine-tuning", starts)
