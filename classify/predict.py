"""`python -m classify.predict` (`make predict`): classify new images with a trained model.

The images go through exactly what the model was trained on: the preprocessing, image size,
backbone weights and engine its record names (a mismatch is refused), in batches, through
the same decode pipeline as extraction. Unreadable files get a row with an error, never a crash.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import cache  # noqa: E402
from classify import heads, saved  # noqa: E402
from classify.runner import probabilities  # noqa: E402
from extract import engines, images, runner  # noqa: E402
from extract.backbone import WeightsError  # noqa: E402
from extract.sources import DataError, file_split  # noqa: E402

MODELS = tuple(saved.MODELS)


@dataclass
class PredictConfig:
    images: list[str] = field(default_factory=list)  # image files and folders (walked recursively)
    out: str = "artifacts"  # holds the trained models; predictions go to <out>/predictions.csv
    head: str = "logreg"  # logreg, dense or finetune
    weights: str = "imagenet"  # the backbone weights the model was trained with (not needed for finetune)
    batch: int = 32
    engine_dir: str | None = None  # where converted TFLite models are kept (<out>/engines if unset)

    def __post_init__(self):
        if self.head not in MODELS:
            raise ValueError(f"head must be one of {MODELS}, got {self.head!r}")

    @property
    def output(self) -> Path:
        return Path(self.out) / "predictions.csv"


def image_files(inputs: list[str]) -> list[Path]:
    """Files named, and every visible file below folders named, in sorted order."""
    files = []
    for item in map(Path, inputs):
        if item.is_file():
            files.append(item)
        elif item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(item).parts))
        else:
            raise DataError(f"no such file or folder: {item}")
    if not files:
        raise DataError(f"no files in {inputs}")
    return files


def classifier(config: PredictConfig):
    """(record, function from a batch of model inputs to class probabilities)."""
    model, record = saved.load(config.out, config.head)
    if record["preprocessing"] != images.PREPROCESSING:
        raise cache.CacheError(f"the {config.head} model was trained with other preprocessing "
                               f"({record['preprocessing']!r}): retrain it")
    if config.head == "finetune":
        return record, lambda batch: heads.probabilities_of_outputs(model.predict_on_batch(batch))
    base = saved.backbone_for(record, config.weights, config.head)
    engine = engines.make_engine(record["engine"], base, record["weights_sha256"], record["image_size"],
                                 config.batch, config.engine_dir or Path(config.out) / "engines")
    return record, lambda batch: probabilities(config.head, model, engine(batch))


def predict(config: PredictConfig, progress: bool = True) -> Counter:
    """Write <out>/predictions.csv; returns the count of each predicted label ('' for errors)."""
    files = image_files(config.images)
    record, classify = classifier(config)
    class_names = record["class_names"]
    split = file_split("predict", [str(f) for f in files], [str(f) for f in files], np.zeros(len(files), np.int64))
    size = record["image_size"]
    per_class = [f"p_{name}" for name in class_names] if len(class_names) > 2 else []
    counts = Counter()
    with cache.atomic_path(config.output) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "score", *per_class, "error"])
        bar = tqdm(total=len(files), unit="img", desc="predict", disable=not progress, dynamic_ncols=True)
        done = 0

        def write_errors(upto: int) -> None:
            nonlocal done
            for position in range(done, upto):
                writer.writerow([split.ids[position], "", "", *[""] * len(per_class),
                                 runner.why_skipped(split, position, size)])
                counts[""] += 1
            done = upto

        overlap = engines.runs_on_gpu("keras" if config.head == "finetune" else record["engine"])
        for positions, batch in runner.batches(split, 0, size, config.batch, overlap):
            for position, probs in zip(positions, classify(batch)):
                write_errors(int(position))
                best = int(np.argmax(probs))
                writer.writerow([split.ids[position], class_names[best], f"{probs[best]:.6f}",
                                 *(f"{p:.6f}" for p in probs[:len(per_class)]), ""])
                counts[class_names[best]] += 1
                done = int(position) + 1
            bar.update(done - bar.n)
        write_errors(len(files))
        bar.update(done - bar.n)
        bar.close()
    return counts


def main(argv=None) -> int:
    d = PredictConfig()
    parser = argparse.ArgumentParser(prog="python -m classify.predict", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files and folders (walked recursively)")
    parser.add_argument("--out", default=d.out, help="folder of the trained models; writes <out>/predictions.csv")
    parser.add_argument("--head", default=d.head, choices=MODELS, help="which trained model classifies")
    parser.add_argument("--weights", default=d.weights, help="backbone weights the head was trained with")
    parser.add_argument("--batch", type=int, default=d.batch, help="images per batch")
    parser.add_argument("--engine-dir", default=d.engine_dir,
                        help="where converted TFLite models are kept (default <out>/engines)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = vars(parser.parse_args(argv))
    quiet = args.pop("quiet")
    try:
        config = PredictConfig(**args)
        counts = predict(config, progress=not quiet)
    except (ValueError, cache.CacheError, DataError, WeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    total = sum(counts.values())
    print(f"{config.output}: {total} images, {counts.pop('', 0)} unreadable")
    for label, count in counts.most_common():
        print(f"  {label}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
