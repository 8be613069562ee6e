"""The report's two figures: accuracy with its interval against total seconds, and each method's
confusion matrix (averaged over its runs)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

import cache  # noqa: E402
from report.verdict import Row  # noqa: E402


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    with cache.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def accuracy_against_cost(rows: list[Row], path: Path) -> None:
    """Each method at (its extraction + training seconds, its accuracy), with the 95% interval."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for row in rows:
        seconds, accuracy = row.method.total_seconds, row.accuracy
        axis.errorbar(
            seconds,
            100 * accuracy.estimate,
            capsize=4,
            marker="o",
            yerr=[[100 * (accuracy.estimate - accuracy.low)], [100 * (accuracy.high - accuracy.estimate)]],
            label=f"{row.method.label} ({row.runs} run{'s' if row.runs > 1 else ''})",
        )
    costs = [row.method.total_seconds for row in rows]
    spans_decades = max(costs) >= 10 * min(costs)  # log ticks within one decade read 1.224×10¹
    if spans_decades:
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    scale = " (log scale)" if spans_decades else ""
    axis.set_xlabel(f"seconds: one-off extraction (cached heads) + training, per run{scale}")
    axis.set_ylabel(f"accuracy on {rows[0].method.scored.split} (%), 95% interval")
    axis.grid(alpha=0.3, which="both")
    axis.legend(loc="best", fontsize=8)
    _save(figure, path)


def mean_confusion(row: Row, n_classes: int) -> np.ndarray:
    """(true, predicted) counts averaged over the method's runs."""
    s = row.method.scored
    predicted = s.probabilities.argmax(axis=-1)
    counts = np.zeros((n_classes, n_classes))
    for run in predicted:
        np.add.at(counts, (s.labels, run), 1)
    return counts / len(predicted)


def confusion_matrices(rows: list[Row], class_names: list[str], path: Path) -> None:
    columns = min(len(rows), 3)
    lines = -(-len(rows) // columns)
    size = 2.2 + 0.45 * len(class_names)
    figure, axes = plt.subplots(lines, columns, figsize=(size * columns, size * lines), squeeze=False)
    for axis in axes.flat[len(rows) :]:
        axis.axis("off")
    for axis, row in zip(axes.flat, rows, strict=False):
        counts = mean_confusion(row, len(class_names))
        axis.imshow(counts, cmap="Blues")
        for (true, predicted), value in np.ndenumerate(counts):
            axis.text(
                predicted,
                true,
                f"{value:.0f}" if row.runs == 1 else f"{value:.1f}",
                ha="center",
                va="center",
                color="white" if value > counts.max() / 2 else "black",
            )
        axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
        axis.set_yticks(range(len(class_names)), class_names)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(row.method.label, fontsize=9)
    _save(figure, path)
