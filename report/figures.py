"""The report's two figures: the verdict's metric with its interval against total seconds, and each method's
confusion matrix (each image's majority vote over the method's runs), as counts and as recall,
legible from 2 to 40 classes."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

import cache  # noqa: E402
from report import stats  # noqa: E402
from report.config import METRICS  # noqa: E402
from report.verdict import Row  # noqa: E402


def _save(figure, path: Path) -> None:
    """Write a laid-out figure (each builder lays its own out: tight_layout draws every text once)."""
    with cache.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def metric_against_cost(rows: list[Row], path: Path) -> None:
    """Each method at (its extraction + training seconds, the verdict's metric on every scored
    image, as the table gives it), with the 95% interval."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for row in rows:
        seconds, value = row.method.total_seconds, row.scores.interval(row.metric)
        axis.errorbar(
            seconds,
            100 * value.estimate,
            capsize=4,
            marker="o",
            yerr=[[100 * (value.estimate - value.low)], [100 * (value.high - value.estimate)]],
            label=f"{row.method.label} ({row.runs} run{'s' if row.runs > 1 else ''})",
        )
    costs = [row.method.total_seconds for row in rows]
    spans_decades = max(costs) >= 10 * min(costs)  # log ticks within one decade read 1.224×10¹
    if spans_decades:
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    scale = " (log scale)" if spans_decades else ""
    axis.set_xlabel(f"seconds: one-off extraction (cached heads) + training, per run{scale}")
    axis.set_ylabel(f"{METRICS[rows[0].metric]} on {rows[0].method.scored.split} (%), 95% interval")
    axis.grid(alpha=0.3, which="both")
    axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    _save(figure, path)


def voted_confusion(row: Row, n_classes: int) -> np.ndarray:
    """(true, predicted) integer counts of each image's majority vote over the method's runs."""
    s = row.method.scored
    return confusion_matrix(s.labels, stats.voted(s.probabilities), labels=range(n_classes))


def layout(n_classes: int) -> dict:
    """Sizes that keep a K×K matrix legible: the panel grows with K; tick labels shrink past a dozen
    classes (the predicted ones stand upright: a slanted label's box reaches over its neighbour's);
    cells print their values only where non-zero past a dozen."""
    many = n_classes > 12
    return {
        # inches: 0.3 (0.25 past a dozen) a class, so 40 classes fit a 1,200-pixel page at 100 dpi
        "panel": 1.5 + 0.25 * n_classes if many else 2.0 + 0.3 * n_classes,
        "ticks": 8 if many else 9,
        "cells": 7 if many else 8,
        "zeros": not many,
        "columns": 1 if n_classes > 16 else 2,  # counts and recall side by side while two fit 1,300 px
    }


def confusion_figure(rows: list[Row], class_names: list[str]):
    """Per method, its confusion matrix as integer counts (majority vote over runs) and as recall
    (each row divided by its class's images, in percent)."""
    n_classes = len(class_names)
    sizes = layout(n_classes)
    panels = [(row, view) for row in rows for view in ("counts", "recall")]
    columns = sizes["columns"]
    lines = -(-len(panels) // columns)
    figure, axes = plt.subplots(
        lines, columns, figsize=(sizes["panel"] * columns + 0.5, sizes["panel"] * lines + 0.5), squeeze=False
    )
    for axis, (row, view) in zip(axes.flat, panels, strict=True):  # two panels a method: the grid is full
        counts = voted_confusion(row, n_classes)
        support = counts.sum(axis=1, keepdims=True)
        shown = counts if view == "counts" else 100 * counts / np.maximum(support, 1)
        axis.imshow(shown, cmap="Blues", vmin=0, vmax=100 if view == "recall" else max(1, shown.max()))
        for (true, predicted), value in np.ndenumerate(shown):
            if value or sizes["zeros"]:
                axis.text(
                    predicted,
                    true,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=sizes["cells"],
                    color="white" if value > shown.max() / 2 else "black",
                    in_layout=False,  # inside its cell: the layout need not measure it
                )
        axis.set_xticks(range(n_classes), class_names, rotation=90, fontsize=sizes["ticks"])
        axis.set_yticks(range(n_classes), class_names, fontsize=sizes["ticks"])
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        what = "images, majority vote over runs" if view == "counts" else "recall: % of each true class"
        axis.set_title(f"{row.method.label}\n{what}", fontsize=9)
    figure.tight_layout()
    return figure


def confusion_matrices(rows: list[Row], class_names: list[str], path: Path) -> None:
    _save(confusion_figure(rows, class_names), path)


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
        count = len(search["candidates"])
        axis.set_title(f"The search: {count} candidate{'s' * (count != 1)}, {search['seconds']:.0f} s", fontsize=10)
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
