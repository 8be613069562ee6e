"""Every run's class probabilities on the scored split: what the report's statistics need.

Each method (heads, fine-tuning, the tutorial's recipe) writes one `.npz` beside its metrics
(`Paths.scored`): the scored images' ids and labels, and (runs, images, classes) probabilities,
one row per seed, with each run's training seconds and the method's inference time per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cache


@dataclass
class Scored:
    split: str
    ids: list[str]
    labels: np.ndarray  # (images,)
    probabilities: np.ndarray  # (runs, images, classes)
    seeds: list[int]
    train_seconds: np.ndarray  # (runs,)
    inference_seconds_per_image: float


def save(path: Path, scored: Scored) -> None:
    with cache.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            split=np.str_(scored.split),
            ids=np.asarray(scored.ids, dtype=str),
            labels=np.asarray(scored.labels, dtype=np.int64),
            probabilities=np.asarray(scored.probabilities, dtype=np.float32),
            seeds=np.asarray(scored.seeds, dtype=np.int64),
            train_seconds=np.asarray(scored.train_seconds, dtype=np.float64),
            inference_seconds_per_image=np.float64(scored.inference_seconds_per_image),
        )


def load(path: Path) -> Scored:
    with np.load(path) as data:
        return Scored(
            split=str(data["split"]),
            ids=data["ids"].tolist(),
            labels=data["labels"],
            probabilities=data["probabilities"],
            seeds=data["seeds"].tolist(),
            train_seconds=data["train_seconds"],
            inference_seconds_per_image=float(data["inference_seconds_per_image"]),
        )
