"""Every setting of the finetune stage's entry points, with defaults and help, in one place:
`make finetune` (FinetuneConfig) and the tutorial's recipe timed as a baseline (BaselineConfig).
Both train end to end on images, SEEDS times, under the same protocol as the heads."""

from __future__ import annotations

from dataclasses import dataclass

from classify.config import CLASS_WEIGHT_HELP, CLASS_WEIGHTS, WEIGHTS_HELP, check_runs
from extract import backbones
from extract.recorded.holdout import DEV_FRACTION
from workflow.cli import option
from workflow.paths import Paths

SEARCH_POINTS = 3  # choice-row losses measured along each search candidate's steps (its curve)
EPOCHS_HELP = "epochs of each run"
SEEDS_HELP = "runs, with seeds seed, seed+1, ...; the report shows their spread"


@dataclass
class EndToEndConfig:
    out: str = option("artifacts", "folder holding features.h5 (and heads/); writes its own folder there", make="OUT")
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")
    weights: str | None = option(None, WEIGHTS_HELP, make="WEIGHTS")
    epochs: int = option(10, EPOCHS_HELP, make="EPOCHS")  # the tutorial's recipe shares the heads' EPOCHS
    batch: int = option(32, "batch size", make="BATCH")
    augment: bool = option(True, "random flip, rotation and zoom of training images", negate="--no-augment")
    seed: int = option(0, "random seed of the first run")
    seeds: int = option(3, SEEDS_HELP, make="SEEDS")
    dev_fraction: float = option(
        DEV_FRACTION,
        "without a test split: this part of each class's train images makes every choice (as for the heads)",
        make="DEV_FRACTION",
    )
    groups: str | None = option(
        None,
        "without a test split: a file of `id,group` lines (a patient, a slide); dev takes or leaves each "
        "group whole (as for the heads)",
        make="GROUPS",
    )
    class_weight: str = option("none", CLASS_WEIGHT_HELP, choices=CLASS_WEIGHTS, make="CLASS_WEIGHT")

    def __post_init__(self):
        if self.epochs < 1 or self.batch < 1:
            raise ValueError("epochs and batch must be positive")
        check_runs(self.seeds, self.dev_fraction, self.class_weight)

    @property
    def paths(self) -> Paths:
        return Paths(self.out)


RECIPES = ("searched", "tutorial")
TUTORIAL_HEAD = "dense"  # the head the tutorial's recipe fine-tunes from: its own Dense head


@dataclass
class FinetuneConfig(EndToEndConfig):
    # Fine-tuning is the expensive run: its epochs and repeats have Make variables of their own
    # (the Makefile gives FT_SEEDS, when unset, the value of SEEDS).
    epochs: int = option(10, EPOCHS_HELP, make="FT_EPOCHS")
    seeds: int = option(3, SEEDS_HELP + " (Make: SEEDS where FT_SEEDS is unset)", make="FT_SEEDS")
    recipe: str = option(
        "searched",
        "searched: start from the cached head with the lowest loss on choice rows it did not tune on, choose the "
        "rate and depth on the choice rows (--search-*), warm-up then cosine decay; tutorial: start from the Dense "
        "head, fixed rate "
        "(--learning-rate) and depth (--fine-tune-at)",
        choices=RECIPES,
        make="FT_RECIPE",
    )
    fine_tune_at: str | None = option(
        None,
        "tutorial recipe: train the backbone from this layer up: a layer name, a fraction of its layers (0.65: "
        "the top 35%% train) or an index; unset: the backbone's own (extract/backbones/)",
        make="FINE_TUNE_AT",
    )
    learning_rate: float | None = option(
        None, "tutorial recipe: RMSprop learning rate (unset: the Dense head's / 10, the tutorial's)"
    )
    search_rates: list[float] = option(
        [1e-5, 3e-5, 1e-4], "searched recipe: peak learning rates tried, comma-separated", make="FT_RATES"
    )
    search_depths: list[str] | None = option(
        None,
        "searched recipe: FINE_TUNE_AT depths tried (layer names, fractions or indices), comma-separated; "
        "unset: the backbone's own",
        make="FT_DEPTHS",
    )
    search_steps: int = option(
        30, "searched recipe: training steps of each candidate of the search", make="FT_SEARCH_STEPS"
    )

    def __post_init__(self):
        super().__post_init__()
        if self.search_depths is not None and not self.search_depths:
            raise ValueError("search depths, where set, must name at least one depth")
        # depths as the command line gives them (text), whoever sets them: a run resumed from Python
        # keeps the settings a killed command-line run recorded, and metrics name them one way
        if self.fine_tune_at is not None:
            self.fine_tune_at = str(self.fine_tune_at)
        if self.search_depths is not None:
            self.search_depths = [str(depth) for depth in self.search_depths]
        if min(self.search_rates, default=0) <= 0 or self.search_steps < SEARCH_POINTS:
            raise ValueError(f"every search rate must be positive, and search steps at least {SEARCH_POINTS}")


@dataclass
class BaselineConfig(EndToEndConfig):
    learning_rate: float = option(1e-4, "RMSprop learning rate (the tutorial's)")
