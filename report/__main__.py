"""`python -m report` (`make report`): compare every method whose metrics match the cache."""

import sys

from report.config import ReportConfig
from workflow import cli


def show(config: ReportConfig, path) -> None:
    print(path.read_text())


main = cli.command(
    ReportConfig,
    "report.write:write_report",
    show,
    prog="python -m report",
    description="Write <out>/report.md and <out>/report.png comparing every method whose "
    "metrics match the cache in <out>.",
)

if __name__ == "__main__":
    sys.exit(main())
