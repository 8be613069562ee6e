"""Classify new images with a trained model (`make predict`, `python -m classify.predict`).

The images go through what the model was trained on: the preprocessing, image size, backbone
weights and engine its record names, through extraction's own input pipeline.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

import cache
from classify import saved
from classify.config import PredictConfig
from classify.heads.network import probabilities_of_outputs
from classify.part import columns
from extract.network import calibration, engines
from extract.network.backbone import matching_backbone
from extract.network.feature_source import recorded_source, source_in
from extract.reading import pipeline
from extract.reading.hashes import ContentHashes
from extract.reading.sources import DataError, Split
from workflow.paths import FINETUNED


def image_files(inputs: list[str]) -> list[Path]:
    """Files named, and every visible file below folders named, in sorted order."""
    files = []
    for item in map(Path, inputs):
        if item.is_file() or item.is_symlink():  # a broken link gets a row with its error
            files.append(item)
        elif item.is_dir():
            files += sorted(
                p
                for p in item.rglob("*")
                if (p.is_file() or p.is_symlink())
                and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
        else:
            raise DataError(f"no such file or folder: {item}")
    if not files:
        raise DataError(f"no files in {inputs}")
    return files


def classifier(config: PredictConfig):
    """(record, function from a batch of model inputs to class probabilities)."""
    if config.precision == "int8":
        return exported_int8(config)
    model, record = saved.load(config.out, config.head)
    recorded_source(record, config.backbone, f"the {config.head} model")
    if record["preprocessing"] != source_in(record).preprocessing:
        raise cache.CacheError(
            f"the {config.head} model was trained with other preprocessing ({record['preprocessing']!r}): retrain it"
        )
    if config.head == FINETUNED:
        return record, lambda batch: probabilities_of_outputs(model.predict_on_batch(batch))
    # a head trained on int8 features sees int8 features: the engine the cache was extracted with,
    # which was calibrated and built on every block the cache holds; the head reads its own blocks' columns
    int8 = calibration.Calibration(record["calibration"]) if record.get("precision") == "int8" else None
    chosen = source_in(record)
    cached = replace(chosen, layers=tuple(record["blocks"])) if int8 is not None and record.get("blocks") else chosen
    keep = columns(chosen.layers, cached.blocks)
    base = matching_backbone(record, config.weights, f"the {config.head} head", cached)
    engine = engines.make_engine(
        record["engine"],
        base,
        record["weights_sha256"],
        record["image_size"],
        config.batch,
        config.engine_path,
        calibration=int8,
    )
    return record, lambda batch: model.predict_proba(engine(batch)[:, keep])


def exported_int8(config: PredictConfig):
    """(record, classify) of the fused int8 export (`make export PRECISION=int8`): what a device runs."""
    path, record_path = config.paths.export_int8, config.paths.export_record
    if not path.exists() or not record_path.exists():
        raise cache.CacheError(f"no int8 export in {config.out}: run `make export PRECISION=int8` first")
    record = json.loads(record_path.read_text())
    if record["head"] != config.head:
        raise cache.CacheError(
            f"the int8 export in {config.out} is of the {record['head']} model, not {config.head}: "
            f"pass HEAD={record['head']}, or run `make export PRECISION=int8 HEAD={config.head}`"
        )
    engine = engines.TFLiteEngine(path, config.batch)
    return record, engine


def mean_over_views(classify, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """(B, C) probabilities of (B, size, size, 3) inputs, or the mean over the views of
    (B, K, size, size, 3) ones, `batch_size` images at a time."""
    images = batch.reshape(-1, *batch.shape[-3:])
    probs = np.concatenate([classify(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    return probs.reshape(len(batch), -1, probs.shape[-1]).mean(axis=1)


WIDE = 20  # classes: with more, the probability of each goes to its own file rather than widening the CSV


def predict(config: PredictConfig, progress: bool = True) -> Counter:
    """Write <out>/predictions.csv (and with more than WIDE classes, every class's probability to
    predictions_probabilities.csv); returns the count of each predicted label ('' for errors)."""
    files = image_files(config.images)
    record, classify = classifier(config)
    views = record.get("views", 1) if config.tta else 1
    if config.tta and views < 2:
        raise cache.CacheError(
            f"the {config.head} model's cache has one view per image: test-time augmentation needs a cache "
            "built with VIEWS=2 or more (make features VIEWS=2)"
        )
    class_names = record["class_names"]
    paths = [str(f) for f in files]
    # content hashes seed the views, as extraction's do: a cached image gets the views the cache has
    content = list(map(ContentHashes().of, paths)) if views > 1 else None
    split = Split("predict", paths, np.zeros(len(files), np.int64), paths=paths, content=content)
    size = record["image_size"]
    top = min(config.top_k, len(class_names))
    ranked = [f"{column}_{rank}" for rank in range(2, top + 1) for column in ("label", "score")]
    per_class = [f"p_{name}" for name in class_names] if len(class_names) > 2 else []
    apart = len(class_names) > WIDE
    counts = Counter()
    paths = config.paths
    # surrogateescape: a file name that is not valid UTF-8 is written with its own bytes
    with ExitStack() as files_open:

        def csv_writer(path: Path):
            tmp = files_open.enter_context(cache.atomic_path(path))
            return csv.writer(
                files_open.enter_context(open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape"))
            )

        writer = csv_writer(paths.predictions)
        wide_writer = csv_writer(paths.prediction_probabilities) if apart else csv.writer(io.StringIO())
        in_main = [] if apart else per_class
        writer.writerow(["path", "label", "score", *ranked, *in_main, "error"])
        wide_writer.writerow(["path", *per_class])
        bar = tqdm(total=len(files), unit="img", desc="predict", disable=not progress, dynamic_ncols=True)
        done = 0

        def write_errors(upto: int) -> None:
            nonlocal done
            for position in range(done, upto):
                blanks = [""] * (len(ranked) + len(in_main))
                writer.writerow([split.ids[position], "", "", *blanks, pipeline.why_skipped(split, position, size)])
                counts[""] += 1
            done = upto

        on_cpu = config.precision == "int8"  # the int8 export: a TFLite file
        overlap = not on_cpu and engines.runs_on_gpu("keras" if config.head == FINETUNED else record["engine"])
        policy = record.get("view_policy", "flip")
        backbone = source_in(record).backbone
        inputs = pipeline.batches(split, 0, size, config.batch, overlap, views, policy, backbone=backbone)
        for positions, batch in inputs:
            for position, probs in zip(positions, mean_over_views(classify, batch, config.batch), strict=True):
                write_errors(int(position))
                order = np.argsort(-probs, kind="stable")[:top]
                best = int(order[0])
                probabilities = [f"{p:.6f}" for p in probs[: len(per_class)]]
                writer.writerow(
                    [
                        split.ids[position],
                        class_names[best],
                        f"{probs[best]:.6f}",
                        *(cell for k in order[1:] for cell in (class_names[k], f"{probs[k]:.6f}")),
                        *([] if apart else probabilities),
                        "",
                    ]
                )
                if apart:
                    wide_writer.writerow([split.ids[position], *probabilities])
                counts[class_names[best]] += 1
                done = int(position) + 1
            bar.update(done - bar.n)
        write_errors(len(files))
        bar.update(done - bar.n)
        bar.close()
    if not apart:
        paths.prediction_probabilities.unlink(missing_ok=True)  # an earlier run's, of another model
    return counts
