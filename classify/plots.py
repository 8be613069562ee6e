"""Learning curves, for the Dense head and for fine-tuning."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import cache  # noqa: E402


def learning_curves(
    history: dict,
    path: str | Path,
    title: str,
    phase_starts: dict[str, int] | None = None,
    validation_name: str = "validation",
) -> Path:
    """Accuracy and loss per epoch on the training rows and on `validation_name`'s (the rows that
    choose the epoch: `val_*` in `history`); a vertical line where each named phase starts."""
    figure, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    epochs = range(1, len(history["loss"]) + 1)
    for axis, metric in zip(axes, ("accuracy", "loss"), strict=True):
        axis.plot(epochs, history[metric], label=f"training {metric}")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], label=f"{validation_name} {metric}")
        for name, epoch in (phase_starts or {}).items():
            axis.axvline(epoch + 0.5, color="grey", linestyle="--")
            axis.annotate(
                name,
                (epoch + 0.5, 0.5),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="center",
                ha="right",
                color="grey",
            )
        axis.set_ylabel(metric)
        axis.legend(loc="best")
        axis.grid(alpha=0.3)
    axes[0].set_title(title)
    axes[1].set_xlabel("epoch")
    figure.tight_layout()
    with cache.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return Path(path)
