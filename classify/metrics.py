"""Scores of class probabilities against labels, in the shape metrics.json keeps."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, roc_auc_score


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """accuracy, log loss, ROC AUC (binary, or macro one-vs-rest for K), confusion matrix, n."""
    n_classes = probabilities.shape[1]
    classes = list(range(n_classes))
    predicted = probabilities.argmax(axis=1)
    result = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "loss": float(log_loss(labels, probabilities, labels=classes)),
        "auc": _auc(probabilities, labels),
        "n": int(len(labels)),
        "confusion": confusion_matrix(labels, predicted, labels=classes).tolist(),
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
