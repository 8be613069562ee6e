"""Repeated, resumable end-to-end training runs on images: one per seed, each keeping its best
epoch by loss on the protocol's choice rows, then scored on its scored rows. A warm-started run's
model before any step is a candidate too ("epoch 0"): fine-tuning never ends below its start.

Fine-tuning and the tutorial's recipe both train this way. Each run keeps its files under
`Paths.run(method, seed)`: Keras's backup (a killed run resumes from its last finished epoch),
the epoch history with each epoch's seconds, the best epoch's weights, and once finished its
result, so a rerun skips it.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np

import cache
from classify import scored
from classify.heads import network
from classify.metrics import score
from classify.weights import class_weights, record
from extract.network.feature_source import source_in
from finetune.data import TrainingStream, image_dataset
from workflow.paths import RunFiles

# Settings that do not change what one run computes (weights are checked by their values).
RUN_INDEPENDENT = ("out", "weights", "seed", "seeds")
# The training stream, recorded with the settings that decide whether kept runs and searches are
# reused: those made with another stream (before issue 23's fixes) are trained again.
STREAM = (
    "whole fit split in a new order every epoch, order and views a pure function of (seed, epoch); "
    "a last batch of under half a batch left out"
)
MONITOR = "val_loss"  # Keras's name for the loss on the choice rows given as validation_data


class StreamEpochs(keras.callbacks.Callback):
    """Gives the training stream the epoch Keras is about to run (a resumed run's first is the one
    after its backup's) and starts the model's dropout masks from that epoch's seed; appends what
    the epoch was served to the run's stream log: its first positions and augmentation seed, to
    compare runs by.

    Keras's backup keeps the weights and the optimizer, not the state of the dropout layers'
    random generators: a resumed run would draw other masks from there on than the run left
    alone (BENCHMARKS.md, issue 34). Seeded every epoch, they are a pure function of (seed, epoch)."""

    def __init__(self, stream: TrainingStream, path: Path):
        super().__init__()
        self.stream, self.path = stream, path

    def on_epoch_begin(self, epoch, logs=None):
        self.stream.epoch = epoch
        seed = self.stream.plan(epoch).dropout_seed
        states = [v for v in self.model.variables if v.name == "seed_generator_state"]  # Keras's SeedGenerator
        for index, state in enumerate(states):
            state.assign(np.array([seed + index, 0], dtype=state.dtype))

    def on_epoch_end(self, epoch, logs=None):
        plan = self.stream.served[epoch]
        new = not self.path.exists()
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(STREAM_LOG)
            first = " ".join(map(str, plan.positions[:FIRST_POSITIONS]))
            writer.writerow([epoch, plan.augmentation_seed, first])


STREAM_LOG = ("epoch", "augmentation_seed", "first_positions")
FIRST_POSITIONS = 5  # of each epoch's order, in the stream log


def read_stream_log(path: Path) -> dict[int, tuple[int, str]]:
    """{epoch: (augmentation seed, first positions)}: an epoch run again after an interruption
    between its log row and Keras's backup is logged twice, alike."""
    with open(path, newline="") as handle:
        return {
            int(row["epoch"]): (int(row["augmentation_seed"]), row["first_positions"]) for row in csv.DictReader(handle)
        }


class EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs, so the CSV history keeps it across resumes."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["seconds"] = time.perf_counter() - self._started


@dataclass
class RunResult:
    seed: int
    probabilities: np.ndarray  # (images, classes) on the scored rows, from the best epoch
    inference_seconds_per_image: float
    history: dict[str, list[float]]
    start: dict[str, float] | None = None  # epoch 0 on the choice rows (`_start`), for a warm start
    search_seconds: float = 0.0  # the recipe search before the runs, counted in each run's cost

    @property
    def choice_losses(self) -> list[float]:
        """The choice rows' loss at each candidate epoch: epoch 0 first where the start is one."""
        return ([self.start[MONITOR]] if self.start else []) + self.history[MONITOR]

    class_weight: dict | None = None  # the setting and the weights its optimiser saw (`weights.record`)

    @property
    def choice_loss(self) -> float:
        return min(self.choice_losses)

    @property
    def best_epoch(self) -> int:
        """0: the start itself (training never beat it on the choice rows)."""
        return int(np.argmin(self.choice_losses)) + (0 if self.start else 1)

    @property
    def seconds(self) -> float:
        start = self.start["seconds"] if self.start else 0.0
        return float(sum(self.history["seconds"])) + start + self.search_seconds


def train_runs(
    method: str,
    config,
    settings: dict,
    make_model: Callable[[int], keras.Model],
    roles: dict,
    meta: dict,
    progress: bool,
    warm_start: bool = False,
) -> list[RunResult]:
    """Train (or resume, or reuse) one run per seed of `config` (a FinetuneConfig or BaselineConfig);
    `make_model(seed)` builds a compiled model. With `warm_start`, the model before any step is
    epoch 0, a candidate for the best epoch.

    A run's files are reused only while everything that decides it stays the same: the config
    (less RUN_INDEPENDENT), the cache, the protocol, and `settings`; otherwise it starts afresh."""
    settings = (
        {key: value for key, value in asdict(config).items() if key not in RUN_INDEPENDENT}
        | {"cache": meta["fingerprint"], "stream": STREAM}
        | settings
    )
    epochs, batch = config.epochs, config.batch
    binary = len(meta["class_names"]) == 2
    size = meta["image_size"]
    weights = fit_class_weights(config, roles, meta)
    weighted = record(config.class_weight, weights, meta["class_names"])
    results = []
    for seed in range(config.seed, config.seed + config.seeds):
        files = config.paths.run(method, seed)
        if _recorded_settings(files) != settings:
            shutil.rmtree(files.directory, ignore_errors=True)
            files.directory.mkdir(parents=True)
            cache.write_text(files.settings, json.dumps(settings, sort_keys=True))
        if files.result.exists():
            results.append(replace(_load(files, seed), class_weight=weighted))
            continue
        keras.utils.set_random_seed(seed)
        model = make_model(seed)
        fit = fit_stream(config, roles["fit"], meta, seed)
        choose = image_dataset(*roles["choose"], size, batch, binary, backbone=source_in(meta).backbone)
        _fit(model, fit, choose, files, epochs, progress, warm_start, weights)
        load_best(model, files)
        started = time.perf_counter()
        probabilities = predict(model, roles["score"], meta, batch)
        per_image = (time.perf_counter() - started) / len(probabilities)
        with cache.atomic_path(files.result) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, probabilities=probabilities, inference_seconds_per_image=per_image)
        results.append(replace(_load(files, seed), class_weight=weighted))
    return results


def fit_class_weights(config, roles: dict, meta: dict) -> dict[int, float] | None:
    """`config.class_weight`'s weight of each class, from the fit rows: what every fit of the method sees."""
    split, keep = roles["fit"]
    return class_weights(split.labels[keep], len(meta["class_names"]), config.class_weight)


def fit_stream(config, role: tuple, meta: dict, seed: int) -> TrainingStream:
    """One run's training batches (`finetune.data.TrainingStream`): the fit images in a new order
    every epoch, a last batch of under half a batch left out, augmented if `config.augment`."""
    binary = len(meta["class_names"]) == 2
    backbone = source_in(meta).backbone
    return TrainingStream(*role, meta["image_size"], config.batch, binary, seed, config.augment, backbone=backbone)


def _fit(
    model: keras.Model,
    fit: TrainingStream,
    choose,
    files: RunFiles,
    epochs: int,
    progress: bool,
    warm_start: bool,
    class_weight: dict | None,
) -> None:
    done = len(read_history(files.history).get("loss", [])) if files.history.exists() else 0
    if done >= epochs and files.best.exists():
        return  # trained, killed before its result was written
    if not files.backup.exists():  # killed before its first epoch ended: start afresh
        for path in (files.history, files.stream, files.best, files.start):
            path.unlink(missing_ok=True)
    if warm_start and not files.start.exists():
        _start(model, choose, files)
    # The backup last: an epoch is logged before Keras counts it done, so a kill between the two
    # runs it again and logs it twice, alike (the readers keep the last row of an epoch), never
    # leaves it out.
    callbacks = [
        StreamEpochs(fit, files.stream),
        EpochSeconds(),
        keras.callbacks.ModelCheckpoint(
            str(files.best),
            monitor=MONITOR,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=_best_so_far(files),
        ),
        keras.callbacks.CSVLogger(str(files.history), append=True),
        keras.callbacks.BackupAndRestore(str(files.backup)),  # deletes itself when training ends
    ]
    # the stream orders itself, from the run's seed and the epoch; class weights weigh the fit rows' loss only
    model.fit(
        fit.dataset,
        validation_data=choose,
        epochs=epochs,
        callbacks=callbacks,
        verbose=2 if progress else 0,
        shuffle=False,
        class_weight=class_weight,
    )


def _start(model: keras.Model, choose, files: RunFiles) -> None:
    """Epoch 0: the warm-started model on the choice rows, saved as the best epoch so far, so a
    run whose every epoch is worse ends where it started."""
    started = time.perf_counter()
    loss, accuracy = model.evaluate(choose, verbose=0)
    model.save_weights(files.best)
    start = {MONITOR: float(loss), "val_accuracy": float(accuracy), "seconds": time.perf_counter() - started}
    cache.write_text(files.start, json.dumps(start))


def load_best(model: keras.Model, files: RunFiles) -> None:
    """The run's best epoch's weights into `model`. Its optimizer state is not needed after
    training, so Keras's notice that it skips the optimizer's variables is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(files.best)


def _recorded_settings(files: RunFiles) -> dict | None:
    try:
        return json.loads(files.settings.read_text())
    except (OSError, ValueError):
        return None


def _load(files: RunFiles, seed: int) -> RunResult:
    start = json.loads(files.start.read_text()) if files.start.exists() else None
    with np.load(files.result) as data:
        return RunResult(
            seed, data["probabilities"], float(data["inference_seconds_per_image"]), read_history(files.history), start
        )


def scored_of(results: list[RunResult], role: tuple, split_name: str) -> scored.Scored:
    """Every run's probabilities on the scored rows (`role`: the scored split and its kept mask)."""
    split, keep = role
    return scored.Scored(
        split_name,
        [item for item, kept in zip(split.ids, keep, strict=True) if kept],
        split.labels[keep],
        np.stack([r.probabilities for r in results]),
        [r.seed for r in results],
        np.array([r.seconds for r in results]),
        float(np.mean([r.inference_seconds_per_image for r in results])),
    )


def seen_end_to_end(config) -> dict:
    """What an end-to-end method's training saw beside a head's (`classify.seen.trained_on`): the
    arithmetic Keras trained in (mixed float16 on a GPU), and its own augmented views of the images."""
    views = "a new random view of each image every epoch" if config.augment else 1
    return {"precision": keras.mixed_precision.global_policy().name, "views": views}


def summary(results: list[RunResult]) -> dict:
    """What metrics.json says of the runs: mean training seconds, each run, inference time."""
    return {
        "train_seconds": float(np.mean([r.seconds for r in results])),
        "runs": [
            {"seed": r.seed, "train_seconds": r.seconds, "choice_loss": r.choice_loss, "best_epoch": r.best_epoch}
            for r in results
        ],
        "inference_ms_per_image": 1000 * float(np.mean([r.inference_seconds_per_image for r in results])),
        "class_weight": results[0].class_weight,
    }


def predict(model: keras.Model, role: tuple, meta: dict, batch: int) -> np.ndarray:
    """(images, classes) probabilities of a split's kept images, in cache order."""
    binary = len(meta["class_names"]) == 2
    dataset = image_dataset(*role, meta["image_size"], batch, binary, backbone=source_in(meta).backbone)
    outputs = model.predict(dataset, verbose=0)
    return network.probabilities_of_outputs(outputs)


def score_splits(model: keras.Model, splits: dict, meta: dict, batch: int) -> dict:
    """metrics.json entries for every split but train."""
    return {
        name: score(predict(model, (split, keep), meta, batch), split.labels[keep], meta["class_names"])
        for name, (split, keep) in splits.items()
        if name != "train"
    }


def read_history(path: Path) -> dict[str, list[float]]:
    """Each logged epoch's values, in epoch order; the last row of an epoch logged twice (`_fit`)."""
    with open(path, newline="") as handle:
        rows = list({int(row["epoch"]): row for row in csv.DictReader(handle)}.values())
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"} if rows else {}


def _best_so_far(files: RunFiles) -> float | None:
    """A resumed run's checkpoint must beat the epochs before the interruption and epoch 0, not
    start afresh."""
    values = read_history(files.history).get(MONITOR, []) if files.history.exists() else []
    if files.start.exists():
        values = [*values, json.loads(files.start.read_text())[MONITOR]]
    return min(values) if values else None
