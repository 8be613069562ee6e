"""Scores of class probabilities against labels, in the shape metrics.json keeps, and the
per-class numbers with bootstrap intervals that metrics.json and the report share.

Every interval resamples images (the unit a split samples) with replacement, BOOTSTRAP_SAMPLES
times, and every statistic of one set of images (accuracy, each class's precision, recall and F1,
balanced accuracy, macro-F1; of every method) comes from the same resamples: a paired
difference is then the difference of two methods' values resample by resample. Each is computed
from per-image sums (`columns`), so one matrix product per block of resamples gives them all.

A method with several runs is pooled over them: an image counts as the share of its runs that
predicted each class, so accuracy and recall are the mean over runs, and precision is the pooled
hits over the pooled predictions of a class (with one run, exactly scikit-learn's numbers).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score

BOOTSTRAP_SAMPLES = 4000
CONFIDENCE = 0.95
SUMMARY = ("accuracy", "balanced_accuracy", "macro_f1")  # one number per method
PER_CLASS = ("precision", "recall", "f1")


@dataclass
class Interval:
    estimate: float
    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


def percentiles(estimate: float, samples: np.ndarray) -> Interval:
    """The 95% percentile interval of resampled values (a class absent from a resample is left out)."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail]) if np.isfinite(samples).any() else (np.nan, np.nan)
    return Interval(float(estimate), float(low), float(high))


def resample_counts(images: int, seed: int = 0) -> Iterator[np.ndarray]:
    """(resamples, images) counts of how often each image is drawn, 500 resamples at a time (which
    bounds memory); the same seed and number of images give the same resamples."""
    rng = np.random.default_rng(seed)
    for start in range(0, BOOTSTRAP_SAMPLES, 500):
        chunk = min(500, BOOTSTRAP_SAMPLES - start)
        rows = rng.integers(0, images, (chunk, images))
        offsets = (rows + images * np.arange(chunk)[:, None]).ravel()
        yield np.bincount(offsets, minlength=chunk * images).reshape(chunk, images).astype(np.float64)


def resampled_sums(columns: np.ndarray, seed: int = 0) -> np.ndarray:
    """(BOOTSTRAP_SAMPLES, q) sums of each of the (images, q) columns over each resample."""
    return np.concatenate([counts @ columns for counts in resample_counts(len(columns), seed)])


def columns(probabilities: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(images, 3K) per-image quantities whose sums give every statistic: for each class, is it the
    label; the share of runs predicting it where it is the label (hits); the share predicting it.
    `probabilities` is (runs, images, classes) or (images, classes)."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2:
        probabilities = probabilities[None]
    predicted = np.eye(n_classes)[probabilities.argmax(axis=-1)].mean(axis=0)
    true = np.eye(n_classes)[np.asarray(labels)]
    return np.hstack([true, true * predicted, predicted])


def statistics(sums: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Every statistic from `columns`' sums, (..., 3K) → (...) or (..., K). A class with no images
    has no recall; a class neither present nor predicted, no precision or F1 (NaN: left out of the
    macro averages and the intervals, as scikit-learn leaves out labels it does not see)."""
    support, hits, predicted = np.split(sums, 3, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of a resample with no class counted
        recall = np.where(support > 0, hits / support, np.nan)
        precision = np.where(predicted > 0, hits / predicted, np.where(support > 0, 0.0, np.nan))
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), np.nan)
        return {
            "accuracy": hits.sum(axis=-1) / support.sum(axis=-1),
            "balanced_accuracy": np.nanmean(recall, axis=-1),
            "macro_f1": np.nanmean(f1, axis=-1),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }


@dataclass
class Scores:
    """One method's statistics on a set of images: each one's estimate, and its value on every
    bootstrap resample (the same resamples for every method scored on the same images)."""

    estimate: dict[str, np.ndarray]
    resampled: dict[str, np.ndarray]

    def interval(self, name: str, index: int | None = None) -> Interval:
        estimate, samples = self.estimate[name], self.resampled[name]
        if index is not None:
            estimate, samples = estimate[index], samples[:, index]
        return percentiles(float(estimate), samples)

    def difference(self, other: Scores, name: str, index: int | None = None) -> Interval:
        """This method's statistic minus the other's on the same images, with its paired interval."""
        mine, theirs = self.estimate[name] - other.estimate[name], self.resampled[name] - other.resampled[name]
        if index is not None:
            mine, theirs = mine[index], theirs[:, index]
        return percentiles(float(mine), theirs)

    def per_class(self, class_names: list[str]) -> dict:
        """{class: {"precision": interval, "recall": …, "f1": …, "support": n}} as JSON keeps it."""
        return {
            name: {key: vars(self.interval(key, k)) for key in PER_CLASS}
            | {"support": int(round(float(self.estimate["support"][k])))}
            for k, name in enumerate(class_names)
        }

    def summary(self) -> dict:
        """{accuracy, balanced_accuracy, macro_f1: interval} as JSON keeps them."""
        return {name: vars(self.interval(name)) for name in SUMMARY}


def scores_of(probabilities: list[np.ndarray], labels: np.ndarray, n_classes: int, seed: int = 0) -> list[Scores]:
    """Each method's `Scores` on the same images and the same resamples; `probabilities`, one
    (runs, images, classes) or (images, classes) array per method."""
    per_method = [columns(p, labels, n_classes) for p in probabilities]
    sums = np.split(resampled_sums(np.hstack(per_method), seed), len(per_method), axis=1)
    return [
        Scores(statistics(c.sum(axis=0), n_classes), statistics(s, n_classes))
        for c, s in zip(per_method, sums, strict=True)
    ]


def score(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """accuracy, balanced accuracy and macro-F1, each class's precision, recall, F1 and support
    (with 95% bootstrap intervals), log loss, ROC AUC (binary, or macro one-vs-rest for K),
    confusion matrix, n."""
    n_classes = probabilities.shape[1]
    classes = list(range(n_classes))
    predicted = probabilities.argmax(axis=1)
    (scores,) = scores_of([probabilities], labels, n_classes)
    result = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "loss": float(log_loss(labels, probabilities, labels=classes)),
        "auc": _auc(probabilities, labels),
        "n": int(len(labels)),
        "confusion": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "balanced_accuracy": scores.summary()["balanced_accuracy"],
        "macro_f1": scores.summary()["macro_f1"],
        "per_class": scores.per_class(class_names),
    }
    return result


def _auc(probabilities: np.ndarray, labels: np.ndarray) -> float | None:
    """None where AUC is undefined (a split with one class only)."""
    if len(np.unique(labels)) < 2:
        return None
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    present = np.unique(labels)
    if len(present) < probabilities.shape[1]:
        return None
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro"))


def markdown_table(metrics: dict) -> str:
    """One row per method and split: what `make heads` and the report print."""
    lines = ["| method | split | accuracy | log loss | AUC | n | train s |", "|---|---|---|---|---|---|---|"]
    for method, entry in metrics.items():
        for split, s in entry.items():
            if isinstance(s, dict) and "n" in s:
                auc = "–" if s["auc"] is None else f"{s['auc']:.4f}"
                lines.append(
                    f"| {method} | {split} | {s['accuracy']:.4f} | {s['loss']:.4f} | {auc} | {s['n']} "
                    f"| {entry['train_seconds']:.1f} |"
                )
    return "\n".join(lines)
