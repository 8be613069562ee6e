"""`python -m extract.bench` (`make bench`): speed and memory of the workflow, one table.

All figures come from one run on one machine, so their ratios hold on a noisy one; each speed
is the median of several repeats after a warm-up. Real photos where content matters, synthetic
tensors and features elsewhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from classify import heads  # noqa: E402
from classify.config import HeadConfig  # noqa: E402
from extract import backbone, engines, images, runner  # noqa: E402
from extract.config import ExtractConfig  # noqa: E402


def median_rate(step, items: int, repeats: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return items / statistics.median(times)


def bare_forward(weights: str, size: int, engine_dir: Path, repeats: int, batch: int = 32) -> dict[str, float]:
    model = backbone.build_backbone(weights, size)
    digest = backbone.weights_sha256(model)
    inputs = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    rates = {}
    for name in ("keras", "tflite"):
        engine = engines.make_engine(name, model, digest, size, batch, engine_dir)
        rates[name] = median_rate(lambda: engine(inputs), batch, repeats)
    return rates


def decode_only(data: Path, size: int, limit: int, repeats: int) -> float:
    paths = sorted(str(p) for p in data.rglob("*.jpg"))[:limit]
    dataset = (tf.data.Dataset.from_tensor_slices(paths)
               .map(lambda p: images.preprocess(tf.io.read_file(p), size), num_parallel_calls=tf.data.AUTOTUNE)
               .batch(32).prefetch(tf.data.AUTOTUNE))
    return median_rate(lambda: [None for _ in dataset], len(paths), repeats)


def end_to_end(data: Path, weights: str, size: int, engine: str, engine_dir: Path, limit: int | None) -> tuple[float, float]:
    """(images/s of extraction work, wall seconds of the whole run)"""
    with tempfile.TemporaryDirectory() as out:
        config = ExtractConfig(data=str(data), weights=weights, image_size=size, out=out, engine=engine,
                               engine_dir=str(engine_dir), limit=limit)
        started = time.perf_counter()
        summary = runner.run(config, progress=False)
        wall = time.perf_counter() - started
    work = sum(s.seconds for s in summary.splits)
    return sum(s.images for s in summary.splits) / work, wall


def peak_rss_mb(count: int, weights: str, engine_dir: Path, size: int) -> float:
    """Peak RSS of a `python -m extract` process over `count` generated images."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as root:
        rng = np.random.default_rng(0)
        tile = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
        for split, share in (("train", 0.8), ("validation", 0.2)):
            for label in ("a", "b"):
                folder = Path(root, "data", split, label)
                folder.mkdir(parents=True)
                Image.fromarray(tile).save(folder / "0.jpg", quality=90)
                for i in range(1, int(count * share / 2)):
                    os.link(folder / "0.jpg", folder / f"{i}.jpg")  # same bytes, no disk cost
        args = ["--quiet", "--data", str(Path(root, "data")), "--weights", weights, "--image-size", str(size),
                "--out", str(Path(root, "out")), "--engine-dir", str(engine_dir)]
        measured = subprocess.run([sys.executable, "-c", _MEASURED_RUN, *args], check=True, capture_output=True,
                                  text=True, cwd=Path(__file__).resolve().parents[1])
    return float(measured.stdout.strip().splitlines()[-1]) / 1024


# Runs `python -m extract ARGS` in this process, then prints its own peak RSS in KiB.
_MEASURED_RUN = """
import resource, sys
from extract.__main__ import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def heads_seconds(rows: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, rows)
    features = np.maximum(rng.normal(0, 1, (rows, backbone.FEATURE_DIM)) + labels[:, None] * 0.1, 0)
    features = features.astype(np.float32)
    config = HeadConfig(cs=[0.01], folds=2, jobs=-1)
    logreg = statistics.median(heads.train_logreg(config, features, labels)[1]["fit_seconds"] for _ in range(repeats))
    started = time.perf_counter()
    heads.train_dense(config, (features, labels), None, 2)
    return {"logreg fit": logreg, "dense fit (10 epochs)": time.perf_counter() - started}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extract.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a folder of real photos (cats_and_dogs_filtered)")
    parser.add_argument("--weights", required=True, help="MobileNetV2 no-top weights (.h5)")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: proves it runs")
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = 2 if quick else 5
    limit = 64 if quick else None
    rows = []
    with tempfile.TemporaryDirectory() as engine_dir:
        engine_dir = Path(engine_dir)
        for size in (160,) if quick else (160, 224):
            bare = bare_forward(args.weights, size, engine_dir, repeats)
            for name, rate in bare.items():
                rows.append((f"bare forward, {name}", size, f"{rate:.0f} img/s", "pre-decoded tensors, batch 32"))
            for name in ("tflite", "keras"):
                rate, wall = end_to_end(Path(args.data), args.weights, size, name, engine_dir, limit)
                rows.append((f"extraction end to end, {name}", size, f"{rate:.0f} img/s",
                             f"{rate / bare[name]:.2f} × its bare forward; {wall:.1f} s wall incl. start-up"))
            rate = decode_only(Path(args.data), size, 256 if quick else 3000, repeats)
            rows.append(("read + decode + resize alone", size, f"{rate:.0f} img/s", "tf.data, both cores"))
        counts = (100, 400) if quick else (1000, 25000)
        for count in counts:
            rows.append((f"peak RSS of extraction, {count} images", 160,
                         f"{peak_rss_mb(count, args.weights, engine_dir, 160):.0f} MB", "python -m extract process"))
    for n in (2000,) if quick else (2000, 25000):
        for name, seconds in heads_seconds(n, repeats).items():
            rows.append((f"{name}, {n}×1280", "–", f"{seconds:.2f} s", "synthetic features"))
    print("| measure | px | result | note |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
