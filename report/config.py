"""The settings of `make report` (`python -m report`)."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.cli import option
from workflow.paths import Paths


@dataclass
class ReportConfig:
    out: str = option("artifacts", "the output folder whose methods are compared; the report is written there")
    runs: list[str] = option(
        [],
        "output folders whose methods join one report, e.g. one at 160 px and one at "
        "224 px (their scored splits must hold the same images); default: --out alone",
    )

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
