"""The tutorial's Keras head on pooled features: Dropout, then Dense(1) logit for two classes or
Dense(K) softmax for more, trained to convergence on the choice rows (or by the tutorial's recipe)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from classify.heads.base import Head


def _network():
    """The Keras code, imported on first use: settings and --help load no TensorFlow."""
    import classify.heads.network as network

    return network


class Dense(Head):
    name = "dense"
    title = "Dense head on cache"
    suffix = ".keras"
    streams = True
    hidden: ClassVar[bool] = False  # a ReLU hidden layer of `config.hidden` units (the MLP head)

    def __init__(self, config=None, model=None):
        super().__init__(config)
        self.model = model

    def fit(self, fit, choose, n_classes, seed, class_weight=None, progress=False) -> Dense:
        hidden = self.config.hidden if self.hidden else 0
        verbose = 2 if progress and fit.streamed else 0  # streamed fits take minutes
        self.model, self.history, record = _network().train_dense(
            replace(self.config, seed=seed), fit, choose, n_classes, hidden, class_weight, verbose
        )
        self.record = record | {"streamed": fit.streamed, "class_weight": class_weight}
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return _network().dense_probabilities(self.model, features)

    def save(self, path: Path) -> None:
        self.model.save(path)

    @classmethod
    def load(cls, path: Path) -> Dense:
        import keras

        # compile=False: a later stage compiles afresh (fine-tuning) or only predicts
        return cls(model=keras.saving.load_model(path, compile=False))

    def choices(self, choose: str) -> str:
        streaming = ", fit rows streamed from the cache" if self.record["streamed"] else ""
        if self.record["recipe"] == "tutorial":
            rate, epochs = self.record["learning_rate"], self.config.epochs
            how = f"RMSprop at {rate:g} (the tutorial's recipe), at most {epochs} epochs"
        else:
            how = (
                f"Adam rate {self.record['learning_rate']:g} from {self.config.rates} by the lowest loss on {choose}, "
                f"at most {self.config.max_epochs} epochs"
            )
        return f"{how}; best epoch ({self.record['best_epoch']}) by early stopping on {choose}{streaming}"

    def network(self, dropout: float = 0.0):
        return self.model
