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


def fine_tuning_curves(entry: dict, path: Path) -> None:
    """Fine-tuning's recipe at work (its metrics.json entry): each search candidate's loss on the
    choice rows against its steps, on one panel; the saved run's, epoch 0 (the start) included,
    against its epochs on the other."""
    search = entry.get("search")
    figure, axes = plt.subplots(1, 2 if search else 1, figsize=(12 if search else 6, 4.5), squeeze=False)
    if search:
        axis = axes[0, 0]
        for candidate in search["candidates"]:
            chosen = candidate["learning_rate"] == entry["learning_rate"] and (
                candidate["fine_tune_at"] == entry["fine_tune_at"]
            )
            axis.plot(
                candidate["steps"],
                candidate["choice_loss"],
                marker="o",
                linewidth=2.5 if chosen else 1,
                label=f"rate {candidate['learning_rate']:g}, layers {candidate['fine_tune_at']}+"
                + (" (chosen)" if chosen else ""),
            )
        axis.set_xlabel("training step")
        axis.set_ylabel("loss on the choice rows")
        axis.set_title(f"The search: {len(search['candidates'])} candidates, {search['seconds']:.0f} s", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axis = axes[0, -1]
    curve = entry["curve"]
    axis.plot(range(len(curve["choice_loss"])), curve["choice_loss"], marker="o", label="choice rows (epoch 0: start)")
    axis.plot(range(1, len(curve["loss"]) + 1), curve["loss"], marker=".", label="training rows (augmented)")
    axis.axvline(entry["best_epoch"], color="grey", linestyle="--", label=f"best epoch: {entry['best_epoch']}")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(f"The saved run: {entry['recipe']} recipe", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)
