"""Issue 35's rows of `make bench` alone (`bench.pipeline_speed`), with the CPU beside them, for any
checkout: this checkout's timing code runs the code at `--root`, so that an older commit's table
is made the same way:

    PYTHONPATH=. .venv/bin/python bench/experiments/ceiling_table.py --root /tmp/before
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))
from bench.experiments.pipeline_before_after import photos_and_weights  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(HERE), help="the checkout whose extraction runs")
    photos_and_weights(parser)
    parser.add_argument("--engines", help="a folder kept between runs for the converted engines")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(Path(args.root).resolve()))
    spec = importlib.util.spec_from_file_location("pipeline_speed", HERE / "bench" / "pipeline_speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    from bench.rows.machine import cpu_model

    with tempfile.TemporaryDirectory() as scratch:
        engines = Path(args.engines or scratch)
        rows = speed.ceiling_rows(Path(args.photos), str(Path(args.weights).resolve()), engines, args.quick)
    print(f"code: {Path(args.root).resolve()}\n\n| measure | px | result | note |\n|---|---|---|---|")
    for row in [("CPU", "–", *cpu_model()), *rows]:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


if __name__ == "__main__":
    main()
