"""Every setting of the heads stage, with its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cache

HEADS = ("logreg", "dense")


@dataclass
class HeadConfig:
    out: str = "artifacts"  # reads <out>/features.h5, writes <out>/heads/
    head: str = "all"  # all, logreg or dense
    # Dense head (the tutorial's classifier on pooled features)
    epochs: int = 10
    batch: int = 32
    learning_rate: float = 1e-4  # RMSprop, the tutorial's base learning rate
    dropout: float = 0.2
    hidden: int = 0  # units of an optional ReLU hidden layer (0: none)
    patience: int = 3  # early-stopping epochs without a better validation loss
    # Logistic regression: C is chosen by stratified k-fold cross-validation on train
    cs: list[float] = field(default_factory=lambda: [0.001, 0.01, 0.1, 1.0])
    folds: int = 5
    jobs: int = -1  # joblib workers for the search (-1: every core)
    seed: int = 0

    def __post_init__(self):
        if self.head not in ("all", *HEADS):
            raise ValueError(f"head must be all, logreg or dense, got {self.head!r}")
        if self.epochs < 1 or self.batch < 1 or self.folds < 2:
            raise ValueError("epochs and batch must be positive, folds at least 2")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def heads(self) -> tuple[str, ...]:
        return HEADS if self.head == "all" else (self.head,)

    @property
    def cache_path(self) -> Path:
        return cache.path_in(self.out)

    @property
    def heads_dir(self) -> Path:
        return Path(self.out) / "heads"
