"""Issue 35's before/after: the marginal rate of forced builds with the zero-cost engine, float32 and
int8 (`bench.pipeline_speed`), of two checkouts in turns, in one session, so that a machine
shared with other jobs slows both alike:

    git archive 600e707 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    .venv/bin/python bench/experiments/pipeline_before_after.py --before /tmp/before --rounds 3

Each measure runs in a process of its own with the checkout's code first on the path (this
checkout's `bench.pipeline_speed` is loaded from its file, so that both run the same timing):
an untimed build of the small folder, then the small and the large one, timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
SETTINGS = {
    "zero": ({"engine": "tflite"}, True),
    "float32": ({"engine": "tflite"}, False),
    "int8": ({"engine": "tflite", "precision": "int8", "calibration": 200}, False),
}


def measure(
    root: Path, what: str, small: Path, large: Path, counts: tuple[int, int], common: dict
) -> tuple[float, float]:
    """Marginal images/s of `what` with the code at `root`, in this process, and CPU ms per image
    (every thread's: the work, which other jobs on the machine leave about as it is)."""
    sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location("pipeline_speed", HERE / "bench" / "pipeline_speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    settings, zero = SETTINGS[what]
    settings = {**common, **settings}
    with tempfile.TemporaryDirectory() as out:
        speed.build_seconds(small, Path(out), settings, zero)
        (wall_small, cpu_small), (wall_large, cpu_large) = (
            speed.build_seconds(folder, Path(out), settings, zero) for folder in (small, large)
        )
    added = counts[1] - counts[0]
    return added / (wall_large - wall_small), (cpu_large - cpu_small) / added * 1e3


def photos_and_weights(parser: argparse.ArgumentParser) -> None:
    """The shared photos and weights, as options: issue 35's scripts time the same ones."""
    parser.add_argument("--photos", default="../shared/data/cats_and_dogs_filtered")
    parser.add_argument(
        "--weights", default="../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    )


def run(command: list[str]) -> str:
    """The command's output; its errors' last lines where it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed: {done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the older checkout (required)")
    parser.add_argument("--after", default=str(HERE), help="the newer checkout (this one)")
    photos_and_weights(parser)
    parser.add_argument("--counts", default="1000,4000")
    parser.add_argument("--work", help="a folder kept between runs for the linked photos and the engines")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--what", default="zero,float32,int8")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # ROOT WHAT SMALL LARGE: a child's measure
    parser.add_argument("--common", help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.counts.split(","))
    if args.one:
        root, what, small, large = args.one
        print(json.dumps(measure(Path(root), what, Path(small), Path(large), counts, json.loads(args.common))))
        return
    if not args.before:
        parser.error("--before is required")
    sys.path.insert(0, str(HERE))
    from bench.folders import linked_folder

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.work or scratch)
        small, large = (
            folder / f"data{n}"
            if (folder / f"data{n}").exists()
            else linked_folder(Path(args.photos), folder / f"data{n}", n)
            for n in counts
        )
        common = {
            "weights": str(Path(args.weights).resolve()),
            "image_size": 160,
            "engine_dir": str(folder / "engines"),
        }

        def child(root: str, what: str) -> list[str]:
            command = [sys.executable, __file__, "--counts", args.counts, "--common", json.dumps(common)]
            return command + ["--one", str(Path(root).resolve()), what, str(small), str(large)]

        whats = args.what.split(",")
        for what in whats:  # untimed: conversions (int8's per folder: its calibration), the page cache
            run(child(args.after, what))
        for _ in range(args.rounds):
            for what in whats:
                for name, root in (("before", args.before), ("after", args.after)):
                    rate, cpu = json.loads(run(child(root, what)).strip().splitlines()[-1])
                    results.setdefault(what, {}).setdefault(name, []).append((rate, cpu))
                    print(f"{what} {name}: {rate:.0f} img/s, {cpu:.2f} CPU ms/image", flush=True)
    for what, rates in results.items():
        for k, measure_name in enumerate(("wall rate", "CPU ms/image")):
            ratios = [a[k] / b[k] for a, b in zip(rates["after"], rates["before"], strict=True)]
            print(f"{what}: {measure_name} after/before per round " + ", ".join(f"{r:.2f}" for r in ratios))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
