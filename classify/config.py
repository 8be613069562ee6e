"""Every setting of the classify stage's entry points, with defaults and help, in one place:
`make heads` (HeadConfig), `make predict` (PredictConfig), `make export` (ExportConfig)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classify.heads import REGISTRY
from extract import backbones
from extract.recorded.holdout import DEV_FRACTION
from extract.recorded.identity import PRECISIONS
from workflow.cli import option
from workflow.paths import FINETUNED, Paths

HEADS = tuple(REGISTRY)
MODELS = (*HEADS, FINETUNED)  # what predict and export can use: the heads, and the fine-tuned model
DENSE_RECIPES = ("converged", "tutorial")
CLASS_WEIGHTS = ("none", "balanced")
CLASS_WEIGHT_HELP = (
    "balanced: weigh each class by the inverse of its frequency in the fit rows, so a rare class counts as much as "
    "a common one in training; none: every image alike"
)
WEIGHTS_HELP = "backbone weights; unset: the ones the cache was built with (weights of other values are refused)"


def check_runs(seeds: int, dev_fraction: float, class_weight: str) -> None:
    """The settings of the protocol, repeats and class weights that every training entry point shares."""
    if class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class weight must be one of {', '.join(CLASS_WEIGHTS)}, got {class_weight!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev fraction must be between 0 and 1, got {dev_fraction}")


@dataclass
class HeadConfig:
    out: str = option("artifacts", "folder holding features.h5; heads go to <out>/heads", make="OUT")
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")
    heads: list[str] = option(
        ["logreg", "dense"], f"which heads to train, comma-separated: {', '.join(HEADS)}", make="HEADS"
    )
    features: str = option(
        "choose",
        "which of the cache's feature blocks each head uses: choose (the last layer or every stored layer, "
        "whichever gives the lower log loss on the choice rows), or a LAYERS set or comma list the cache holds",
        make="FEATURES",
    )
    # Dense and MLP heads (Keras, on pooled features)
    dense_recipe: str = option(
        "converged",
        "Dense and MLP heads: converged: Adam at each of RATES, at most MAX_EPOCHS epochs with early stopping on the "
        "choice rows, the rate with the lowest choice loss kept; tutorial: RMSprop at LEARNING_RATE for at most "
        "EPOCHS (the tutorial's recipe)",
        choices=DENSE_RECIPES,
        make="DENSE_RECIPE",
    )
    rates: list[float] = option([1e-3, 3e-3, 1e-2], "Dense and MLP heads, converged recipe: Adam learning rates tried")
    max_epochs: int = option(300, "Dense and MLP heads, converged recipe: most epochs")
    converged_patience: int = option(
        20, "Dense and MLP heads, converged recipe: stop after this many epochs without a better choice loss"
    )
    epochs: int = option(
        10, "Dense and MLP heads, tutorial recipe: most epochs (early stopping may end sooner)", make="EPOCHS"
    )
    learning_rate: float = option(1e-4, "Dense and MLP heads, tutorial recipe: RMSprop learning rate")
    patience: int = option(
        3, "Dense and MLP heads, tutorial recipe: stop after this many epochs without a better choice loss"
    )
    batch: int = option(32, "Dense and MLP heads: batch size")
    dropout: float = option(0.2, "Dense and MLP heads: dropout before each Dense layer")
    hidden: int = option(1024, "MLP head: units of its ReLU hidden layer (the seed notebooks')")
    # Logistic regression: C is chosen by stratified k-fold cross-validation on train
    cs: list[float] = option(
        [0.001, 0.01, 0.1, 1.0],
        "logistic regression: inverse regularisation strengths C to cross-validate, comma-separated",
    )
    folds: int = option(5, "logistic regression: stratified cross-validation folds")
    jobs: int = option(-1, "logistic regression: parallel workers for the search (-1: all cores)")
    seed: int = option(0, "random seed of the first run")
    seeds: int = option(
        3,
        "runs of each head, with seeds seed, seed+1, ...; the saved model is the run with the "
        "lowest loss on the choice split, and the report shows the spread",
        make="SEEDS",
    )
    dev_fraction: float = option(
        DEV_FRACTION,
        "without a test split: this part of each class's train images (by hash of "
        "id) makes every choice, and validation scores the verdict",
        make="DEV_FRACTION",
    )
    groups: str | None = option(
        None,
        "without a test split: a file of `id,group` lines (a patient, a slide); dev takes or leaves each "
        "group whole, as it does the near-copies `make audit` confirmed within train",
        make="GROUPS",
    )
    memory_gb: float = option(
        1.0,
        "train in memory while the fit rows' features (float32, every view) take at most this many GB; above "
        "it the heads stream them from the cache a block at a time, so memory stays flat whatever the size "
        "(logistic regression: L-BFGS over full passes, C chosen on SEARCH_ROWS images). 0: always stream",
        make="MEMORY_GB",
    )
    search_rows: int = option(
        20000,
        "logistic regression on streamed rows: how many images (random, stratified) its C is cross-validated on",
        make="SEARCH_ROWS",
    )
    scheduler: str | None = option(
        None,
        "logistic regression: run the cross-validated search on this Dask scheduler (tcp://host:port)",
        make="SCHEDULER",
    )
    class_weight: str = option("none", CLASS_WEIGHT_HELP, choices=CLASS_WEIGHTS, make="CLASS_WEIGHT")
    exclude: str | None = option(
        None,
        "a file of ids to leave out of train (fit and dev rows): audit.csv from make audit (its id column; delete "
        "the rows you want kept) or one id per line. The scored split never changes, so a report compares both",
        make="EXCLUDE",
    )

    def __post_init__(self):
        unknown = set(self.heads) - set(HEADS)
        if unknown or not self.heads:
            raise ValueError(f"heads must be some of {', '.join(HEADS)}, got {','.join(self.heads)!r}")
        if min(self.epochs, self.max_epochs, self.batch, self.hidden) < 1 or self.folds < 2:
            raise ValueError("epochs, max epochs, batch and hidden units must be positive, folds at least 2")
        if self.dense_recipe not in DENSE_RECIPES:
            raise ValueError(f"dense recipe must be one of {', '.join(DENSE_RECIPES)}, got {self.dense_recipe!r}")
        if not self.rates or min(self.rates) <= 0:
            raise ValueError(f"every rate must be positive, got {self.rates}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        check_runs(self.seeds, self.dev_fraction, self.class_weight)
        if self.memory_gb < 0 or self.search_rows < 2 * self.folds:
            raise ValueError("memory GB must be 0 or more, and search rows at least twice the folds")
        if not self.cs or min(self.cs) <= 0:
            raise ValueError(f"every C must be positive, got {self.cs}")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)


@dataclass
class PredictConfig:
    images: list[str] = option([], "image files and folders (walked recursively)", positional=True, make="IMAGES")
    out: str = option("artifacts", "folder of the trained models; writes <out>/predictions.csv", make="OUT")
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")
    head: str = option("logreg", "which trained model classifies", choices=MODELS, make="HEAD")
    weights: str | None = option(None, WEIGHTS_HELP, make="WEIGHTS")
    batch: int = option(32, "images per batch", make="BATCH")
    engine_dir: str | None = option(None, "where converted TFLite models are kept (default <out>/engines)")
    top_k: int = option(1, "label_2, score_2, ... columns: the k most probable classes of each image", make="TOP_K")
    tta: bool = option(
        False,
        "test-time augmentation: the mean probability over each image's views, made as the cache's were "
        "(its VIEWS and policy; needs VIEWS of 2 or more)",
        make="TTA",
    )
    precision: str = option(
        "float32",
        "int8: run the fused full-integer export of HEAD (make export PRECISION=int8), what a device runs; "
        "float32: the trained model on the cache's own engine",
        choices=PRECISIONS,
        make="PRECISION",
    )

    def __post_init__(self):
        if self.head not in MODELS:
            raise ValueError(f"head must be one of {MODELS}, got {self.head!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.batch < 1 or self.top_k < 1:
            raise ValueError("batch and top k must be positive")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)

    @property
    def engine_path(self) -> Path:
        return Path(self.engine_dir) if self.engine_dir else self.paths.engines


@dataclass
class ExportConfig:
    out: str = option("artifacts", "folder of the trained models; writes <out>/export/", make="OUT")
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")
    head: str = option("logreg", "which trained model to fuse with the backbone", choices=MODELS, make="HEAD")
    weights: str | None = option(None, WEIGHTS_HELP, make="WEIGHTS")
    precision: str = option(
        "float32",
        "int8: also write model.int8.tflite, full integer with float input and output, calibrated as PRECISION=int8 "
        "extraction is (on the cache's train images), and its agreement with model.tflite in export.json",
        choices=PRECISIONS,
        make="PRECISION",
    )

    def __post_init__(self):
        if self.head not in MODELS:
            raise ValueError(f"head must be one of {MODELS}, got {self.head!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
