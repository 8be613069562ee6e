"""Choice losses no head tuned on (issue 32; BENCHMARKS.md): the k-NN head chooses k, and the Dense
and MLP heads their epoch and rate, on the choice rows, so their loss there flatters them against
logistic regression, whose C is chosen on the fit rows. Cross-fitted, a head is tuned on one
stratified half of the choice rows and scored on the other, both ways round: a loss on rows it
did not tune on, which `finetune.start` picks fine-tuning's start head by. A head that tunes
nothing on the choice rows (`Head.tunes_on_choice` false) keeps the loss it has."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss

from classify.config import HeadConfig
from classify.heads import REGISTRY
from classify.part import Part
from classify.protocol import parts_of, protocol_of
from classify.weights import class_weights
from workflow.paths import Paths


def halves(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """A boolean mask of half of each class's rows (the smaller half where odd), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    first = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        first[members[: len(members) // 2]] = True
    return first


def loss_on(model, rows, n_classes: int) -> float:
    """Log loss of each image as it is (view 0), as `make heads` scores the choice rows."""
    probabilities = np.concatenate([model.predict_proba(features[:, 0]) for features, _ in rows.blocks()])
    return float(log_loss(rows.labels, probabilities, labels=range(n_classes)))


def cross_fitted(name: str, config: HeadConfig, fit, choose: Part, n_classes: int, seed: int) -> float | None:
    """The head `name` fitted on `fit`, tuned on one half of the `choose` rows and scored on the
    other, both ways round: the two losses weighed by the halves' sizes; None where the choice rows
    cannot be halved."""
    weights = class_weights(fit.labels, n_classes, config.class_weight)
    first = halves(choose.labels, seed)
    if not first.any():  # one choice row per class: the first half would be empty
        return None
    held = []
    for tune in (first, ~first):
        model = REGISTRY[name](config).fit(fit, choose.subset(tune).load(), n_classes, seed, weights)
        held.append((int((~tune).sum()), loss_on(model, choose.subset(~tune).load(), n_classes)))
    return sum(count * loss for count, loss in held) / sum(count for count, _ in held)


def untuned_choice_loss(out, name: str, record: dict, entry: dict) -> float:
    """A saved head's choice loss on rows it did not tune on: `entry` (its metrics.json entry)'s
    saved run's, where the head tunes nothing on the choice rows, or where the choice rows hold one
    image per class and cannot be halved; else cross-fitted with the settings, seed and feature
    blocks it was saved with (`record`: its saved record)."""
    saved_run = next(run for run in entry["runs"] if run["seed"] == entry["saved_seed"])
    if not REGISTRY[name].tunes_on_choice:
        return saved_run["choice_loss"]
    config = HeadConfig(**record["config"])
    cache_path = Paths(out).cache
    parts = parts_of(cache_path, protocol_of(cache_path, config.dev_fraction, config.groups))
    layers, blocks = tuple(entry["features"]["layers"]), record["blocks"]
    fit, choose = parts.fit.only(layers, blocks), parts.choose.only(layers, blocks)
    fit = fit.load() if fit.nbytes <= config.memory_gb * 2**30 else fit
    n_classes = len(record["class_names"])
    crossed = cross_fitted(name, config, fit, choose, n_classes, entry["saved_seed"])
    return saved_run["choice_loss"] if crossed is None else crossed
