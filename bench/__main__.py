"""`python -m bench` (`make bench`): speed and memory of the workflow, one Markdown table.

All figures come from one run on one machine, so their ratios hold on a noisy one; each speed
is the median of several repeats after a warm-up. Real photos where content matters, synthetic
tensors and features elsewhere. BENCHMARKS.md records full runs.
"""

import sys

from bench.config import BenchConfig
from workflow import cli


def show(config: BenchConfig, rows: list[tuple]) -> None:
    print("| measure | px | result | note |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


main = cli.command(BenchConfig, "bench.measure:run", show, prog="python -m bench", description=__doc__)

if __name__ == "__main__":
    sys.exit(main())
