"""k nearest neighbours by cosine similarity of the L2-normalised features: the few-shot baseline,
whose mistakes its neighbours explain. k and the vote's weighting are chosen on the choice rows."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import log_loss
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from classify.heads.base import Head, HeadError
from classify.part import every_view

KS = tuple(range(1, 52, 2))  # odd k: no tied votes between two classes
WEIGHTINGS = ("uniform", "similarity")
FLOOR = 0.01  # of the probability mass spread over every class: a class no neighbour has is not impossible


def votes(similarity: np.ndarray, labels: np.ndarray, n_classes: int, weighting: str, class_weight) -> np.ndarray:
    """(N, C) probabilities from each row's neighbours, most similar first ((N, k) similarities and labels)."""
    weight = np.ones_like(similarity) if weighting == "uniform" else np.maximum(similarity, 0.0) + 1e-6
    if class_weight is not None:
        weight = weight * np.array([class_weight[k] for k in range(n_classes)])[labels]
    probs = np.zeros((len(labels), n_classes))
    np.add.at(probs, (np.arange(len(labels))[:, None], labels), weight)
    probs /= probs.sum(axis=1, keepdims=True)
    return (1 - FLOOR) * probs + FLOOR / n_classes


class Knn(Head):
    name = "knn"
    title = "k nearest neighbours (cosine) on cache"
    suffix = ".joblib"
    streams = False
    fuses = False

    def __init__(self, config=None, state: dict | None = None):
        super().__init__(config)
        self.state = state  # rows, labels, k, weighting, n_classes, class_weight

    def fit(self, fit, choose, n_classes, seed, class_weight=None, progress=False) -> Knn:
        """Every view of the fit rows, kept; k (from KS) and the weighting by the lowest log loss on
        the choice rows. The seed has nothing to draw."""
        self.refuse_streaming(fit)
        features, labels, _ = every_view(fit.load())
        self.state = {
            "rows": normalize(features.astype(np.float32)),
            "labels": labels,
            "n_classes": n_classes,
            "class_weight": class_weight,
        }
        # past the largest class's rows, more neighbours only add the classes' prior
        ks = [k for k in KS if k <= np.bincount(labels).max()]
        choice = choose.load(views=False)
        similarity, neighbours = self._neighbours(choice.features, max(ks))
        losses = {
            (k, weighting): log_loss(
                choice.labels,
                votes(similarity[:, :k], labels[neighbours[:, :k]], n_classes, weighting, class_weight),
                labels=range(n_classes),
            )
            for k in ks
            for weighting in WEIGHTINGS
        }
        (k, weighting), loss = min(losses.items(), key=lambda item: item[1])
        self.state |= {"k": k, "weighting": weighting}
        self.record = {
            "k": k,
            "weighting": weighting,
            "ks": [int(k) for k in ks],
            "choice_log_loss": float(loss),
            "streamed": False,
            "class_weight": class_weight,
        }
        return self

    def _neighbours(self, features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarities, indices) of each row's k nearest fit rows, most similar first."""
        index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(self.state["rows"])
        distance, neighbours = index.kneighbors(normalize(features.astype(np.float32)))
        return 1.0 - distance**2 / 2.0, neighbours  # unit vectors: |a - b|² = 2 - 2 cos

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        state = self.state
        similarity, neighbours = self._neighbours(features, state["k"])
        return votes(
            similarity, state["labels"][neighbours], state["n_classes"], state["weighting"], state["class_weight"]
        )

    def save(self, path: Path) -> None:
        joblib.dump(self.state, path)

    @classmethod
    def load(cls, path: Path) -> Knn:
        return cls(state=joblib.load(path))

    def choices(self, choose: str) -> str:
        r = self.record
        return f"k = {r['k']} of {r['ks'][0]}..{r['ks'][-1]} (odd) and {r['weighting']} votes by log loss on {choose}"

    def network(self, dropout: float = 0.0):
        raise HeadError(
            f"{self.name} cannot be fused into a Keras model: it keeps the training rows; "
            "export another head (HEAD=logreg, say), or predict with this one (make predict)"
        )
