"""Every setting of the finetune stage's entry points, with defaults and help, in one place:
`make finetune` (FinetuneConfig) and the tutorial's recipe timed as a baseline (BaselineConfig)."""

from __future__ import annotations

from dataclasses import dataclass

from classify.config import check_runs
from workflow.cli import option
from workflow.paths import Paths

WEIGHTS_HELP = "backbone weights; unset: the ones the cache was built with (others are refused)"


@dataclass
class FinetuneConfig:
    out: str = option("artifacts", "folder holding features.h5 and heads/; writes <out>/finetune/")
    weights: str | None = option(None, WEIGHTS_HELP)
    fine_tune_at: int = option(100, "train MobileNetV2's layers from this index up (of 155)")
    epochs: int = option(10, "fine-tuning epochs")
    batch: int = option(32, "batch size")
    learning_rate: float | None = option(None, "RMSprop learning rate (unset: the Dense head's / 10, the tutorial's)")
    augment: bool = option(True, "random flip, rotation and zoom of training images", negate="--no-augment")
    seed: int = option(0, "random seed of the first run")
    seeds: int = option(
        3, "runs, with seeds seed, seed+1, ...; the saved model is the run with the lowest loss on the choice split"
    )
    dev_fraction: float = option(
        0.1, "without a test split: this part of each class's train images makes every choice (as for the heads)"
    )

    def __post_init__(self):
        if self.epochs < 1 or self.batch < 1 or self.fine_tune_at < 0:
            raise ValueError("epochs and batch must be positive, fine_tune_at not negative")
        check_runs(self.seeds, self.dev_fraction)

    @property
    def paths(self) -> Paths:
        return Paths(self.out)


@dataclass
class BaselineConfig:
    out: str = option("artifacts", "folder holding features.h5; writes <out>/baseline/metrics.json")
    weights: str | None = option(None, WEIGHTS_HELP)
    epochs: int = option(10, "epochs: the heads' EPOCHS, for a fair comparison")
    batch: int = option(32, "batch size")
    learning_rate: float = option(1e-4, "RMSprop learning rate (the tutorial's)")
    augment: bool = option(True, "random flip, rotation and zoom of training images", negate="--no-augment")
    seed: int = option(0, "random seed of the first run")
    seeds: int = option(3, "runs, with seeds seed, seed+1, ...")
    dev_fraction: float = option(
        0.1, "without a test split: this part of each class's train images makes every choice (as for the heads)"
    )

    def __post_init__(self):
        if self.epochs < 1 or self.batch < 1:
            raise ValueError("epochs and batch must be positive")
        check_runs(self.seeds, self.dev_fraction)

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
