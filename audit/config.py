"""The settings of `make audit` (`python -m audit`)."""

from __future__ import annotations

from dataclasses import dataclass

from extract import backbones
from workflow.cli import option
from workflow.paths import Paths


@dataclass
class AuditConfig:
    out: str = option(
        "artifacts", "folder holding features.h5; audit.csv, audit.md and audit.html are written there", make="OUT"
    )
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")
    folds: int = option(5, "cross-validation folds of the out-of-fold probabilities that rank label issues")
    c: float = option(0.1, "logistic regression's inverse regularisation strength C for those probabilities")
    similarity: float | None = option(
        None,
        "override: pairs whose features' cosine similarity is at least this count as near-copies too, "
        "whatever their pixels (by default a pair counts when its files are byte-identical, or when it "
        "looks alike to the network and its grey thumbnails correlate: the same picture); for copies "
        "edited more than re-encoding, resizing, a small crop, brightness, contrast or a mirror changes "
        "(on the shared photos at 160 px: one photo re-encoded 0.9996+, resized to 60%% 0.94-0.99; the two "
        "most alike distinct photos of 3,000: 0.84; distinct blood cells reach 0.94)",
        make="SIMILARITY",
    )
    neighbours: int = option(10, "outliers: how many nearest images of its own class an image is compared with")
    outlier_fraction: float = option(0.01, "outliers: the most isolated part of each split flagged")
    seed: int = option(0, "seed of the cross-validation folds")
    jobs: int = option(-1, "parallel workers (-1: all cores)")

    def __post_init__(self):
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")
        if self.c <= 0:
            raise ValueError(f"C must be positive, got {self.c}")
        if self.similarity is not None and not 0 < self.similarity <= 1:
            raise ValueError(f"similarity must be in (0, 1], got {self.similarity}")
        if self.neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {self.neighbours}")
        if not 0 <= self.outlier_fraction < 1:
            raise ValueError(f"outlier fraction must be in [0, 1), got {self.outlier_fraction}")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
