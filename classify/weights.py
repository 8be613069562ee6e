"""Class weights: with `balanced`, each class weighs the inverse of its frequency in the fit rows
(scikit-learn's `compute_class_weight("balanced")`: n / (K · n_k), so the weights of all rows sum
to n and an unweighted objective's scale is kept). Every method that trains takes them from here."""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight


def class_weights(labels: np.ndarray, n_classes: int, setting: str) -> dict[int, float] | None:
    """{class index: weight} for `setting`, from the fit rows' labels; None for `none`."""
    if setting == "none":
        return None
    weights = compute_class_weight("balanced", classes=np.arange(n_classes), y=np.asarray(labels))
    return {k: float(w) for k, w in enumerate(weights)}


def record(setting: str, weights: dict[int, float] | None, class_names: list[str]) -> dict:
    """What metrics.json keeps: the setting and the weight of each class the optimiser saw."""
    return {"setting": setting, "weights": None if weights is None else {class_names[k]: w for k, w in weights.items()}}
