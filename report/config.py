"""The settings of `make report` (`python -m report`)."""

from __future__ import annotations

from dataclasses import dataclass

from extract import backbones
from workflow.cli import option
from workflow.paths import Paths

METRICS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1"}  # name: in words


@dataclass
class ReportConfig:
    out: str = option(
        "artifacts", "the output folder whose methods are compared; the report is written there", make="OUT"
    )
    runs: list[str] = option(
        [],
        "output folders whose methods join one report, e.g. one at 160 px and one at "
        "224 px (their scored splits must hold the same images); default: --out alone. Make takes them "
        'space-separated: RUNS="out160 out224"',
        make="RUNS",
    )
    backbone: str | None = option(None, backbones.CHECK_HELP, make="BACKBONE")

    metric: str = option(
        "auto",
        "what the verdict ranks and compares methods by: accuracy, balanced_accuracy (the mean per-class recall) or "
        "macro_f1; auto: accuracy where the scored split's classes are within 1.5x of each other, else "
        "balanced_accuracy",
        choices=("auto", *METRICS),
        make="METRIC",
    )

    def __post_init__(self):
        if self.metric != "auto" and self.metric not in METRICS:
            raise ValueError(f"metric must be auto or one of {', '.join(METRICS)}, got {self.metric!r}")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
