"""Pictures of the mistakes: for each method the scored images it gets most wrong, and the
images where the methods disagree. Users look here first; label errors show up here."""

from __future__ import annotations

import numpy as np

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


def disagreements(rows: list[Row], class_names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(id, true class, each method's predicted class) where the methods' mean predictions differ,
    the images most methods get wrong first."""
    first = rows[0].method.scored
    predicted = np.stack([r.method.scored.probabilities.mean(axis=0).argmax(axis=1) for r in rows])
    differ = np.flatnonzero((predicted != predicted[0]).any(axis=0))
    wrong = (predicted[:, differ] != first.labels[differ]).sum(axis=0)
    order = differ[np.argsort(-wrong, kind="stable")][:DISAGREEMENTS]
    return [(first.ids[i], class_names[first.labels[i]], [class_names[p] for p in predicted[:, i]]) for i in order]
