"""Pictures of the mistakes: for each method the scored images it gets most wrong, the images
where the methods disagree, and for the best method its largest confusions and each class's
surest mistakes. Users look here first; label errors show up here. The rankings follow the
verdict's metric: under a class-balanced one (balanced accuracy, macro-F1) an image weighs its
share of its class, so a small class's mistakes rank as high as they cost."""

from __future__ import annotations

import numpy as np

from report import stats
from report.verdict import Row

MOST_WRONG = 8
DISAGREEMENTS = 12


def most_wrong(row: Row, class_names: list[str]) -> list[tuple[str, str, str, float]]:
    """(id, true class, predicted class, its probability) of the misclassified images, surest first.
    Predictions are the mean probability over the method's runs."""
    s = row.method.scored
    mean = s.probabilities.mean(axis=0)
    predicted = mean.argmax(axis=1)
    wrong = np.flatnonzero(predicted != s.labels)
    order = wrong[np.argsort(-mean[wrong, predicted[wrong]], kind="stable")][:MOST_WRONG]
    return [
        (s.ids[i], class_names[s.labels[i]], class_names[predicted[i]], float(mean[i, predicted[i]])) for i in order
    ]


def image_weights(labels: np.ndarray, n_classes: int, metric: str) -> np.ndarray:
    """What one image's mistake costs on `metric`: alike under accuracy; under a class-balanced
    metric, one over its class's images."""
    if metric == "accuracy":
        return np.ones(len(labels))
    return 1.0 / np.bincount(labels, minlength=n_classes)[labels]


def disagreements(rows: list[Row], class_names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(id, true class, each method's predicted class) where the methods' mean predictions differ,
    the images most methods get wrong first (weighed as the verdict's metric weighs them)."""
    first = rows[0].method.scored
    predicted = np.stack([r.method.scored.probabilities.mean(axis=0).argmax(axis=1) for r in rows])
    differ = np.flatnonzero((predicted != predicted[0]).any(axis=0))
    weights = image_weights(first.labels, len(class_names), rows[0].metric)
    wrong = (predicted[:, differ] != first.labels[differ]).sum(axis=0) * weights[differ]
    order = differ[np.argsort(-wrong, kind="stable")][:DISAGREEMENTS]
    return [(first.ids[i], class_names[first.labels[i]], [class_names[p] for p in predicted[:, i]]) for i in order]


TOP_CONFUSIONS = 6
PER_CONFUSION = 6
PER_CLASS = 3


def _voted_and_sureness(row: Row) -> tuple[np.ndarray, np.ndarray]:
    """Each image's majority vote over the runs, and the mean probability the runs gave that class."""
    s = row.method.scored
    predicted = stats.voted(s.probabilities)
    return predicted, s.probabilities.mean(axis=0)[np.arange(len(predicted)), predicted]


def top_confusions(row: Row, class_names: list[str]) -> list[dict]:
    """The largest off-diagonal cells of the method's (voted) confusion matrix, each with its
    images, surest first: "meningioma → glioma: 41 of 300". Largest as the verdict's metric weighs
    them: by count under accuracy, by share of the true class under a class-balanced metric."""
    s = row.method.scored
    predicted, sureness = _voted_and_sureness(row)
    n_classes = len(class_names)
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (s.labels, predicted), 1)
    np.fill_diagonal(counts, 0)
    cost = np.zeros((n_classes, n_classes))
    np.add.at(cost, (s.labels, predicted), image_weights(s.labels, n_classes, row.metric))
    np.fill_diagonal(cost, 0)
    cells = np.argsort(-cost, axis=None, kind="stable")[:TOP_CONFUSIONS]
    found = []
    for true, wrong in zip(*np.unravel_index(cells, counts.shape), strict=True):
        if not counts[true, wrong]:
            break
        images = np.flatnonzero((s.labels == true) & (predicted == wrong))
        images = images[np.argsort(-sureness[images], kind="stable")][:PER_CONFUSION]
        found.append(
            {
                "true": class_names[true],
                "predicted": class_names[wrong],
                "count": int(counts[true, wrong]),
                "of": int(np.sum(s.labels == true)),
                "ids": [s.ids[i] for i in images],
            }
        )
    return found


def wrong_per_class(row: Row, class_names: list[str]) -> dict[str, list[dict]]:
    """For each true class, its images the method gets most confidently wrong (voted over runs)."""
    s = row.method.scored
    predicted, sureness = _voted_and_sureness(row)
    found = {}
    for k, name in enumerate(class_names):
        wrong = np.flatnonzero((s.labels == k) & (predicted != k))
        wrong = wrong[np.argsort(-sureness[wrong], kind="stable")][:PER_CLASS]
        found[name] = [
            {"id": s.ids[i], "predicted": class_names[predicted[i]], "probability": float(sureness[i])} for i in wrong
        ]
    return found
