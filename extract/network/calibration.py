"""int8 extraction, checked: the images the int8 engine is calibrated on, and how far its features
stray from float32's on the choice rows.

Full-integer quantization needs the range of every activation, measured by running the float
model over representative inputs (TFLiteConverter's `representative_dataset`). They come from the
user's own train split, so the ranges are those of the user's domain: per class, the
`count // classes` fit rows (at least one) with the *highest* sha256 of their id. The sample is
stable (an added file joins it only if its hash ranks that high) and every class is in it.

The check runs both engines over the choice rows (validation where a test split exists, else the
dev rows of train, `extract.recorded.holdout`: the rows every later choice is made on), all of them up to
CHECK_ROWS, else a per-class sample by hash: the features' cosine, and the cross-validated
accuracy of a quick logistic regression on each version of those rows. Calibration comes from the
fit rows only, so the two samples never share an image, whatever LIMIT leaves; the cache records
both (how many, and a digest of their ids).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extract.reading import hashes
from extract.reading.sampling import hash_order
from extract.reading.sources import Source, Split
from extract.recorded.holdout import DEV_FRACTION, dev_ids

CHECK_ROWS = 200  # choice rows the agreement is measured on, at most
WEAK_CHECK = 50  # fewer choice rows than this: the check is said to be weak
# int8 is flagged when its logistic regression on those rows falls this far below float32's: 200
# rows give about ±2 points of noise on the difference (paired folds), so 3 points is a real loss.
TOLERANCE = 0.03
FOLDS = 5
# below this speedup over float32 on the check's batches, the build notes that int8 buys nothing here
WORTH_IT = 1.2


def _per_class(split: Split, among: Iterable[int], count: int, last: bool) -> list[int]:
    """Per class, `count // classes` of the positions `among` (at least one), from the front or the
    back of its hash order."""
    among = np.asarray(list(among), dtype=int)
    classes = np.unique(split.labels[among])
    each = max(1, count // max(1, len(classes)))
    chosen = []
    for label in classes:
        members = among[split.labels[among] == label]
        order = [int(members[i]) for i in hash_order([split.ids[m] for m in members])]
        chosen += order[-each:] if last else order[:each]
    return sorted(chosen)


def calibration_positions(split: Split, count: int, among: Iterable[int] | None = None) -> list[int]:
    """The train images an int8 engine is calibrated on (positions in `split`, ascending), drawn from
    the positions `among` (the fit rows; all of the split where None)."""
    return _per_class(split, range(len(split)) if among is None else among, count, last=True)


@dataclass(frozen=True)
class Int8Rows:
    """The int8 build's two samples: calibration images from train's fit rows, check rows from the
    choice rows (`choice`: validation, or train itself where its dev rows choose)."""

    train: Split
    calibration: list[int]  # positions in train
    choice: Split
    check: list[int]  # positions in choice

    def record(self) -> dict:
        """What the cache keeps of both: how many, and a digest of their ids."""
        ids = lambda split, positions: hashes.digest(sorted(split.ids[i] for i in positions))  # noqa: E731
        return {
            "calibration_images": len(self.calibration),
            "calibration_ids": ids(self.train, self.calibration),
            "rows": len(self.check),
            "split": "validation" if self.choice.name == "validation" else "dev",
            "check_ids": ids(self.choice, self.check),
        }


def int8_rows(splits: list[Split], count: int, dev_fraction: float) -> Int8Rows:
    """The calibration images (`count`, per class, from the fit rows) and the check rows (the choice
    rows, all of them up to CHECK_ROWS) of a source's splits, as `classify.protocol` divides them."""
    names = {split.name: split for split in splits}
    train = names["train"]
    if "test" in names and "validation" in names:  # validation chooses; all of train fits
        choice, choosing, fit = names["validation"], list(range(len(names["validation"]))), range(len(train))
    else:
        dev = dev_ids(train.ids, train.labels, dev_fraction)
        choice, choosing = train, [i for i, item in enumerate(train.ids) if item in dev]
        fit = [i for i, item in enumerate(train.ids) if item not in dev]
    check = choosing if len(choosing) <= CHECK_ROWS else _per_class(choice, choosing, CHECK_ROWS, last=False)
    return Int8Rows(train, calibration_positions(train, count, fit), choice, check)


def digest(split: Split, positions: list[int], count: int) -> str:
    """What identifies a calibration: the sample's file contents (its ids where there are none), and its size."""
    members = [split.content[i] if split.content else split.ids[i] for i in positions]
    return hashes.digest({"calibration": sorted(members), "count": count})


def subset(split: Split, positions: list[int]) -> Split:
    """The inputs at `positions` of a folder or TFDS split."""
    if split.paths is not None:
        return split.subset(positions)
    import tensorflow as tf

    wanted = tf.constant(positions, tf.int64)
    dataset = split.dataset.enumerate().filter(lambda i, _: tf.reduce_any(i == wanted)).map(lambda _, x: x)
    return Split(split.name, [split.ids[i] for i in positions], split.labels[positions], dataset=dataset)


def images(split: Split, image_size: int, backbone: str, batch: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, inputs of the named backbone) of a small split, through extraction's own input pipeline."""
    from extract.reading.pipeline import batches

    return batches(split, 0, image_size, batch, backbone=backbone)


@dataclass
class Calibration:
    """An int8 engine's calibration: its digest (which names the engine file) and, where the
    engine may still have to be made, the images."""

    digest: str
    split: Split | None = None  # the calibration images; None: the engine file must already exist
    image_size: int = 0
    backbone: str = ""  # whose preprocessing the images get

    def samples(self) -> Iterator[list[np.ndarray]]:
        """One image at a time, as TFLiteConverter's representative dataset wants them."""
        for _, batch in images(self.split, self.image_size, self.backbone):
            for image in batch:
                yield [image[None]]


def of_source(
    source: Source, count: int, image_size: int, backbone: str, dev_fraction: float = DEV_FRACTION
) -> Calibration:
    """The calibration of `count` images of the fit rows of the source's train split."""
    return of_rows(int8_rows(source.splits, count, dev_fraction), count, image_size, backbone)


def of_rows(rows: Int8Rows, count: int, image_size: int, backbone: str) -> Calibration:
    calibration = digest(rows.train, rows.calibration, count)
    return Calibration(calibration, subset(rows.train, rows.calibration), image_size, backbone)


def cached_split(cache_path, name: str) -> Split:
    """A split of a cache built from a folder, as a source split again: its files, by the cache's ids."""
    import cache
    from extract.reading.sources import DataError

    meta = cache.info(cache_path)
    folder = Path(meta["dataset"])
    if meta["dataset"].startswith("tfds:") or not folder.is_dir():
        raise DataError(f"calibration reads the image files: the cache's data {meta['dataset']} is not a folder here")
    ids = cache.ids(cache_path, name)
    content = cache.contents(cache_path, name)[0]
    return Split(name, ids, cache.labels(cache_path, name), paths=[str(folder / i) for i in ids], content=content)


def side_by_side(float_engine, int8_engine, split: Split, image_size: int, backbone: str, batch: int):
    """Both engines' outputs on `split`'s inputs, batch by batch in turns, the labels, and int8's
    speed over float32's on those batches: measured, since int8 pays only where the CPU multiplies
    8-bit integers faster than floats (2.1-2.6x on some of these machines, none on others:
    BENCHMARKS.md). Each engine's first batch, which sets up its delegate, is not timed; None
    where there is no second batch."""
    outputs, labels, seconds = ([], []), [], [0.0, 0.0]
    for number, (positions, inputs) in enumerate(images(split, image_size, backbone, batch)):
        for which, engine in enumerate((float_engine, int8_engine)):
            started = time.perf_counter()
            outputs[which].append(engine(inputs))
            seconds[which] += (time.perf_counter() - started) if number else 0.0
        labels.append(split.labels[positions])
    speedup = seconds[0] / seconds[1] if seconds[1] else None
    return np.concatenate(outputs[0]), np.concatenate(outputs[1]), np.concatenate(labels), speedup


def agreement(float_engine, int8_engine, split: Split, image_size: int, backbone: str, batch: int) -> dict:
    """How the int8 features of `split`'s inputs compare with float32's: cosine per row (mean,
    min), the cross-validated accuracy of a quick logistic regression on each, and the speedup."""
    a, b, y, speedup = side_by_side(float_engine, int8_engine, split, image_size, backbone, batch)
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    result = {
        "rows": len(y),
        "split": split.name,
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "tolerance": TOLERANCE,
        "speedup": speedup,
    }
    counts = np.unique(y, return_counts=True)[1]
    folds = min(FOLDS, int(counts.min()))
    if folds >= 2 and len(counts) > 1:
        result["accuracy_float32"] = quick_accuracy(a, y, folds)
        result["accuracy_int8"] = quick_accuracy(b, y, folds)
    return result


def quick_accuracy(features: np.ndarray, labels: np.ndarray, folds: int) -> float:
    """Stratified k-fold accuracy of standardisation + logistic regression (C 0.1), the same folds every call."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    return float(cross_val_score(model, features, labels, cv=cv).mean())


def describe(check: dict) -> list[str]:
    """The agreement and the speedup in one line; a warning line when int8 costs more accuracy on the
    choice rows than the tolerance allows, and a note when it is no faster on this CPU, each naming
    the setting that goes back."""
    line = (
        f"int8 (calibrated on {check['calibration_images']} train images, none of them choice rows) against "
        f"float32 on {check['rows']} choice rows ({check['split']})"
    )
    if check["rows"] < WEAK_CHECK:
        line += f", a weak check (under {WEAK_CHECK} rows)"
    line += f": feature cosine mean {check['cosine_mean']:.3f}, min {check['cosine_min']:.3f}"
    loss = 0.0
    if "accuracy_int8" in check:
        line += (
            f"; logistic regression {100 * check['accuracy_float32']:.1f}% float32, "
            f"{100 * check['accuracy_int8']:.1f}% int8"
        )
        loss = check["accuracy_float32"] - check["accuracy_int8"]
    else:
        line += " (too few rows per class for a logistic regression)"
    speedup = check.get("speedup")
    if speedup:
        line += f"; int8 ran {speedup:.2f}x float32's speed on them"
    lines = [line]
    if loss > check["tolerance"]:
        lines.append(
            f"warning: int8 features lose {100 * loss:.1f} points of accuracy on those rows (tolerance "
            f"{100 * check['tolerance']:.0f}): rebuild with PRECISION=float32"
        )
    if speedup and speedup < WORTH_IT:
        lines.append(
            f"note: int8 is not faster than float32 on this CPU ({speedup:.2f}x): PRECISION=float32 "
            "would cost no time here and keeps full accuracy"
        )
    return lines


def check(int8_engine, model, weights_hash: str, source: Source, config) -> dict:
    """The agreement of an int8 engine with float32 on the choice rows of `source` (`config`: an
    ExtractConfig), and both samples' record (`Int8Rows.record`)."""
    from extract.network import engines

    float_engine = engines.make_engine(
        "tflite", model, weights_hash, config.image_size, config.batch, config.engine_path
    )
    rows = int8_rows(source.splits, config.calibration, config.dev_fraction)
    choice = subset(rows.choice, rows.check)
    measured = agreement(float_engine, int8_engine, choice, config.image_size, config.backbone, config.batch)
    return measured | rows.record() | {"dev_fraction": config.dev_fraction}
