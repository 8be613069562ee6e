"""Every file the workflow writes under its output folder, named in one place.

No other module spells an artifact's path: a stage asks `Paths(out)` for it. The folder is
laid out by stage:

    <out>/features.h5               the feature cache (make features)
    <out>/features.h5.key           the cache's quick key: an up-to-date check without TensorFlow
    <out>/features.h5.parts/        finished shards of an interrupted extraction
    <out>/engines/                  converted TFLite backbones, keyed by weights and size
    <out>/heads/                    logreg.joblib, dense.keras (+ .json records), metrics.json,
                                    dense_history.json, dense_learning_curve.png (make heads)
    <out>/finetune/                 model.keras (+ .json), metrics.json, history.csv,
                                    learning_curve.png, backup/ and best.weights.h5 while running
    <out>/baseline/metrics.json     the tutorial's recipe, timed (make report BASELINE=1)
    <out>/export/                   model.keras and model.tflite (make export)
    <out>/predictions.csv           make predict
    <out>/report.md, report.png     make report
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Trained models: where each lives below the output folder, and which target makes it.
MODEL_FILES = {"logreg": "heads/logreg.joblib", "dense": "heads/dense.keras", "finetune": "finetune/model.keras"}
MAKE_TARGET = {"logreg": "make heads", "dense": "make heads", "finetune": "make finetune"}


@dataclass(frozen=True)
class Paths:
    out: Path

    def __init__(self, out: str | os.PathLike):
        object.__setattr__(self, "out", Path(out))

    # --- make features
    @property
    def cache(self) -> Path:
        return self.out / "features.h5"

    @property
    def quick_key(self) -> Path:
        return self.out / "features.h5.key"

    @property
    def parts(self) -> Path:
        return self.out / "features.h5.parts"

    @property
    def engines(self) -> Path:
        return self.out / "engines"

    # --- make heads
    @property
    def heads(self) -> Path:
        return self.out / "heads"

    @property
    def heads_metrics(self) -> Path:
        return self.heads / "metrics.json"

    @property
    def dense_history(self) -> Path:
        return self.heads / "dense_history.json"

    @property
    def dense_curve(self) -> Path:
        return self.heads / "dense_learning_curve.png"

    def model(self, name: str) -> Path:
        """A trained model's file: `logreg`, `dense` or `finetune`."""
        return self.out / MODEL_FILES[name]

    def record(self, name: str) -> Path:
        """The JSON record beside a model: the cache it was trained on and its settings."""
        return self.model(name).with_suffix(".json")

    # --- make finetune
    @property
    def finetune(self) -> Path:
        return self.out / "finetune"

    @property
    def finetune_metrics(self) -> Path:
        return self.finetune / "metrics.json"

    @property
    def finetune_history(self) -> Path:
        return self.finetune / "history.csv"

    @property
    def finetune_backup(self) -> Path:
        return self.finetune / "backup"

    @property
    def finetune_best(self) -> Path:
        return self.finetune / "best.weights.h5"

    @property
    def finetune_curve(self) -> Path:
        return self.finetune / "learning_curve.png"

    @property
    def baseline_metrics(self) -> Path:
        return self.out / "baseline" / "metrics.json"

    # --- make export, make predict, make report
    @property
    def export_keras(self) -> Path:
        return self.out / "export" / "model.keras"

    @property
    def export_tflite(self) -> Path:
        return self.out / "export" / "model.tflite"

    @property
    def predictions(self) -> Path:
        return self.out / "predictions.csv"

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    @property
    def report_figure(self) -> Path:
        return self.out / "report.png"
