"""Every file the workflow writes under its output folder, named in one place.

No other module spells an artifact's path: a stage asks `Paths(out)` for it. The folder is
laid out by stage:

    <out>/.lock                     held by the one run that writes the folder
    <out>/features.h5               the feature cache (make features)
    <out>/features.h5.key           the cache's quick key: an up-to-date check without TensorFlow
    <out>/features.h5.hashes.json   each image file's content hash (extract.reading.hashes)
    <out>/features.h5.parts/        finished shards of an interrupted extraction
    <out>/features.h5.pixels.npz    each image's grey thumbnail by content hash, made by the first audit
    <out>/engines/                  converted TFLite backbones, keyed by weights and size
    <out>/heads/                    <head><suffix> (the head's own: .joblib, .keras) with a .json
                                    record, for each head; metrics.json, <head>.scored.npz,
                                    <head>_history.json and <head>_learning_curve.png for heads
                                    trained by epochs (make heads)
    <out>/finetune/                 model.keras (+ .json), metrics.json, finetune.scored.npz,
                                    learning_curve.png (make finetune)
    <out>/baseline/                 metrics.json, tutorial.scored.npz: the tutorial's recipe,
                                    timed (make report BASELINE=1)
    <out>/export/                   model.keras and model.tflite (make export); with PRECISION=int8
                                    model.int8.tflite and export.json (its agreement with model.tflite)
    <out>/runs/<method>-<seed>/     one end-to-end run's work (backup/, history.csv, start.json,
                                    best.weights.h5, settings.json, result.npz), kept to resume
    <out>/runs/search-<seed>/       fine-tuning's recipe search (search.json), kept to reuse

The four stage folders (heads, finetune, baseline, export) are symbolic links to their current
version, `.<stage>-<token>/`: a stage's outputs are replaced as one set (`cache.atomic.staged`).
    <out>/predictions.csv           make predict (predictions_probabilities.csv: > 20 classes)
    <out>/report.md, report.html,   make report: the verdict, its figures (report.png,
          report.json               report_confusion.png, report_fine_tuning.png) and report_thumbnails/
    <out>/audit.csv, audit.json,    make audit: label issues, duplicates, outliers (what EXCLUDE
          audit_leakage.csv,        reads); leakage apart; the counts; galleries and
          audit.md, audit.html      audit_thumbnails/
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FINETUNED = "finetune"  # the fine-tuned model's name; every other trained model is a head (`classify.heads`)
# A stage's folder is replaced as a whole (`cache.atomic.staged`): these are they.
STAGE_FOLDERS = ("heads", "finetune", "baseline", "export")


@dataclass(frozen=True)
class RunFiles:
    """One end-to-end run: its settings, Keras's backup for resuming, the epoch history, the best
    epoch's weights, and the finished run's result."""

    directory: Path

    @property
    def backup(self) -> Path:
        return self.directory / "backup"

    @property
    def history(self) -> Path:
        return self.directory / "history.csv"

    @property
    def stream(self) -> Path:
        """Each epoch's augmentation seed and first positions (`finetune.runs.StreamEpochs`)."""
        return self.directory / "stream.csv"

    @property
    def best(self) -> Path:
        return self.directory / "best.weights.h5"

    @property
    def start(self) -> Path:
        """The warm-started model's loss and accuracy on the choice rows before any step: epoch 0."""
        return self.directory / "start.json"

    @property
    def result(self) -> Path:
        return self.directory / "result.npz"

    @property
    def settings(self) -> Path:
        return self.directory / "settings.json"

    @property
    def search(self) -> Path:
        """Fine-tuning's search of its rate and depth (`runs/search-<seed>/`), with what decided it."""
        return self.directory / "search.json"


@dataclass(frozen=True)
class Paths:
    out: Path
    staging: tuple = ()  # (stage, folder) pairs: that stage's files are written into another folder

    def __init__(self, out: str | os.PathLike, staging: tuple = ()):
        object.__setattr__(self, "out", Path(out))
        object.__setattr__(self, "staging", staging)

    def stage(self, name: str) -> Path:
        """A stage's folder (one of STAGE_FOLDERS): where its files are read, or being written."""
        return dict(self.staging).get(name, self.out / name)

    def writing(self, name: str, folder: Path) -> Paths:
        """These paths, with stage `name`'s files in `folder` (a new version being written)."""
        return Paths(self.out, (*self.staging, (name, folder)))

    @property
    def lock(self) -> Path:
        """Held by the run that writes this folder (`cache.lock`)."""
        return self.out / ".lock"

    # --- make features
    @property
    def cache(self) -> Path:
        return self.out / "features.h5"

    @property
    def quick_key(self) -> Path:
        return self.out / "features.h5.key"

    @property
    def content_hashes(self) -> Path:
        """Each image file's content hash with the size, mtime and inode it was taken at."""
        return self.out / "features.h5.hashes.json"

    @property
    def pixels(self) -> Path:
        """Each image's pixel fingerprint by content hash: made by the first `make audit` (audit.pixels)."""
        return self.out / "features.h5.pixels.npz"

    @property
    def parts(self) -> Path:
        return self.out / "features.h5.parts"

    @property
    def engines(self) -> Path:
        return self.out / "engines"

    # --- make heads
    @property
    def heads(self) -> Path:
        return self.stage("heads")

    @property
    def heads_metrics(self) -> Path:
        return self.heads / "metrics.json"

    def history(self, head: str) -> Path:
        """The saved run's epochs, of a head trained by epochs."""
        return self.heads / f"{head}_history.json"

    def curve(self, head: str) -> Path:
        return self.heads / f"{head}_learning_curve.png"

    def model(self, name: str, suffix: str = ".keras") -> Path:
        """A trained model's file: the fine-tuned model (FINETUNED), or a head's, `heads/<name><suffix>`
        (each head names its own suffix: `classify.heads`)."""
        if name == FINETUNED:
            return self.finetune / "model.keras"
        return self.heads / f"{name}{suffix}"

    def scored(self, method: str) -> Path:
        """Every run's probabilities on the scored split (`classify.scored`) of a method: a head (and
        `<head>_tta`: test-time augmentation), `finetune` or `tutorial`."""
        folders = {"finetune": self.finetune, "tutorial": self.baseline}  # the heads' (and _tta's): heads/
        return folders.get(method, self.heads) / f"{method}.scored.npz"

    def record(self, name: str, suffix: str = ".keras") -> Path:
        """The JSON record beside a model: the cache it was trained on and its settings."""
        return self.model(name, suffix).with_suffix(".json")

    # --- make finetune
    @property
    def finetune(self) -> Path:
        return self.stage("finetune")

    @property
    def finetune_metrics(self) -> Path:
        return self.finetune / "metrics.json"

    @property
    def finetune_curve(self) -> Path:
        return self.finetune / "learning_curve.png"

    def run(self, method: str, seed: int) -> RunFiles:
        """One run's files of an end-to-end method (`finetune` or `tutorial`), kept so that a killed
        run resumes."""
        return RunFiles(self.out / "runs" / f"{method}-{seed}")

    @property
    def baseline(self) -> Path:
        return self.stage("baseline")

    @property
    def baseline_metrics(self) -> Path:
        return self.baseline / "metrics.json"

    # --- make export, make predict, make report
    @property
    def export_keras(self) -> Path:
        return self.stage("export") / "model.keras"

    @property
    def export_tflite(self) -> Path:
        return self.stage("export") / "model.tflite"

    @property
    def export_int8(self) -> Path:
        """The fused model in full integer, float input and output (make export PRECISION=int8)."""
        return self.stage("export") / "model.int8.tflite"

    @property
    def export_record(self) -> Path:
        """What make export fused (the head's record) and, for int8, its agreement with the float export."""
        return self.stage("export") / "export.json"

    @property
    def predictions(self) -> Path:
        return self.out / "predictions.csv"

    @property
    def prediction_probabilities(self) -> Path:
        """make predict with more than 20 classes: each image's probability of every class, apart."""
        return self.out / "predictions_probabilities.csv"

    @property
    def audit_csv(self) -> Path:
        """make audit: every finding but leakage, one per row: what `EXCLUDE` reads, decided by train alone."""
        return self.out / "audit.csv"

    @property
    def audit_leakage_csv(self) -> Path:
        """make audit: train near-copies of other splits' images; excluding them is a choice of its own."""
        return self.out / "audit_leakage.csv"

    @property
    def audit_json(self) -> Path:
        """make audit: the counts, and the cache they are of (the report quotes its leakage)."""
        return self.out / "audit.json"

    @property
    def audit_md(self) -> Path:
        return self.out / "audit.md"

    @property
    def audit_html(self) -> Path:
        return self.out / "audit.html"

    @property
    def audit_thumbnails(self) -> Path:
        """The findings' thumbnails, for audit.md (audit.html embeds its own)."""
        return self.out / "audit_thumbnails"

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    @property
    def report_html(self) -> Path:
        return self.out / "report.html"

    @property
    def report_json(self) -> Path:
        return self.out / "report.json"

    @property
    def report_figure(self) -> Path:
        return self.out / "report.png"

    @property
    def report_confusion(self) -> Path:
        return self.out / "report_confusion.png"

    @property
    def report_fine_tuning(self) -> Path:
        """Fine-tuning's search candidates and the saved run's learning curve."""
        return self.out / "report_fine_tuning.png"

    @property
    def report_thumbnails(self) -> Path:
        """The gallery's thumbnails, for report.md (report.html embeds its own)."""
        return self.out / "report_thumbnails"
