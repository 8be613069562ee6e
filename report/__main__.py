"""`python -m report` (`make report`): is fine-tuning worth it over a head on the cache, and at what
cost? Compares every method that ran (logistic regression and the Dense head on the cache,
fine-tuning, the tutorial's recipe) on the same scored images: accuracy with 95% bootstrap
intervals, paired differences with McNemar's test, the spread over seeds, cost, and pictures of
the mistakes. Writes report.md, a self-contained report.html and report.json into --out."""

import sys

from report.config import ReportConfig
from workflow import cli


def show(config: ReportConfig, path) -> None:
    text = path.read_text()
    print(text.split("\n## Most wrong")[0].rstrip())  # the verdict and the table; the pictures are in the files
    paths = config.paths
    print(f"\nwritten: {paths.report}, {paths.report_html}, {paths.report_json}")


main = cli.command(
    ReportConfig,
    "report.write:write_report",
    show,
    prog="python -m report",
    description=__doc__,
)

if __name__ == "__main__":
    sys.exit(main())
