"""What every head is: a small estimator protocol in the spirit of scikit-learn's.

A head is fitted on the protocol's fit rows, makes its own choices (C, k, a learning rate, the
best epoch) on the choice rows, and maps pooled features (N, D) to class probabilities (N, C).
Rows arrive one way, whether in memory or streamed from the cache (`classify.part`: `Part` and
`Loaded` share `len`, `labels`, `views`, `dim`, `blocks(seed)`, `load()` and `streamed`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from workflow.errors import WorkflowError


class HeadError(WorkflowError):
    """The data cannot train a head (one class only, say), or a head cannot do what is asked of it."""


def check_trainable(labels: np.ndarray, class_names: list[str]) -> None:
    """Every class the cache names has training images (else its probabilities would mean nothing)."""
    present = np.unique(labels)
    if len(present) < 2:
        raise HeadError(f"the train split has only one class ({present.tolist()}); a classifier needs two or more")
    if present.max() >= len(class_names):
        raise HeadError(f"labels go up to {present.max()} but the cache names {len(class_names)} classes")
    missing = [name for label, name in enumerate(class_names) if label not in present]
    if missing:
        raise HeadError(
            f"class {', '.join(missing)} has no training images: add some to its train folder, or "
            "remove the class folder everywhere, then run `make features`"
        )


class Head(ABC):
    name: ClassVar[str]  # how settings, files and metrics.json name it
    title: ClassVar[str]  # one line for the report
    suffix: ClassVar[str]  # its saved file's: heads/<name><suffix>
    streams: ClassVar[bool]  # can it fit rows streamed from the cache (larger than memory)?
    fuses: ClassVar[bool] = True  # has it a Keras form (`network`), for export and fine-tuning?
    # does it choose anything (k, an epoch) on the choice rows? Then its loss there is no fair pick
    tunes_on_choice: ClassVar[bool] = True

    def __init__(self, config=None):
        """`config`: the `HeadConfig` it trains with (None for a loaded head, which only predicts)."""
        self.config = config
        self.record: dict = {}  # what it chose, for metrics.json (fitted heads only)
        self.history: dict | None = None  # epochs of a head trained by epochs, for its learning curve

    @abstractmethod
    def fit(self, fit, choose, n_classes: int, seed: int, class_weight=None, progress: bool = False) -> Head:
        """Fit on every view of the `fit` rows; make every choice on the `choose` rows' images as they
        are. `class_weight` ({class: weight}) weighs each fit row's loss by its class; choices stay
        unweighted. Sets `record` (with `streamed` and the `class_weight` its optimiser saw)."""

    @abstractmethod
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, D) features -> (N, C) class probabilities, each row summing to 1."""

    @abstractmethod
    def save(self, path: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Head: ...

    @abstractmethod
    def choices(self, choose: str) -> str:
        """What it chose, and on which rows (`choose` names them), for the report's `choices`."""

    def network(self, dropout: float = 0.0):
        """The head as a Keras network on the features, in training form (a logit for two classes,
        softmax for more): what fine-tuning starts from. `dropout`: before the last layer of a head
        that has no dropout of its own. Heads that are no network refuse in one line."""
        raise HeadError(f"{self.name} has no Keras form")

    def to_keras(self):
        """A Keras model from features to (N, C) probabilities: what `make export` fuses."""
        from classify.heads.network import probabilities_model  # Keras on use only: settings and --help load none

        return probabilities_model(self.network())

    def refuse_streaming(self, fit) -> None:
        """One line, where rows larger than memory reach a head that keeps them all."""
        if fit.streamed and not self.streams:
            raise HeadError(
                f"{self.name} cannot train on fit rows streamed from the cache (above MEMORY_GB): it keeps every "
                "row in memory; raise MEMORY_GB, or leave it out of HEADS"
            )
