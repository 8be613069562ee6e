"""The settings of `make report` (`python -m report`)."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.cli import option
from workflow.paths import Paths


@dataclass
class ReportConfig:
    out: str = option("artifacts", "the output folder whose cache and metrics are compared; writes report.md there")

    @property
    def paths(self) -> Paths:
        return Paths(self.out)
