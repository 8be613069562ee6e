"""Every setting of the fine-tuning stage, with its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cache


@dataclass
class FinetuneConfig:
    out: str = "artifacts"  # reads <out>/features.h5 and <out>/heads/dense.keras, writes <out>/finetune/
    weights: str = "imagenet"  # the backbone's weights: must be those the cache was built with
    fine_tune_at: int = 100  # MobileNetV2 layers from this index upwards are trained (of 155)
    epochs: int = 10
    batch: int = 32
    learning_rate: float | None = None  # default: the Dense head's learning rate / 10 (the tutorial's)
    augment: bool = True  # random flip, rotation and zoom on training images
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch < 1 or self.fine_tune_at < 0:
            raise ValueError("epochs and batch must be positive, fine_tune_at not negative")

    @property
    def cache_path(self) -> Path:
        return cache.path_in(self.out)

    @property
    def directory(self) -> Path:
        return Path(self.out) / "finetune"
