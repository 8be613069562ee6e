"""Feature layers (`LAYERS`): extraction speed of each named set against the last layer alone, in
one run, and the cache's bytes per image at float32 and float16 (BENCHMARKS.md, issue 20/21).

    .venv/bin/python -m bench.experiments.layers --data ../shared/data/pbc_sample --weights <no-top .h5>

Speed: extraction's own input pipeline (decode, resize, batch) and the TFLite engine over the
same images, the sets taken in turn in each repeat so that the machine's noise falls on all
alike; the median of the repeats. Size: a cache file written with random rows of each set's
width, its bytes divided by its rows (HDF5's chunking, checksums and ids included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import cache
from extract import backbones
from extract.network import backbone, engines
from extract.network.feature_source import NAMED_SETS, source_of
from extract.reading import pipeline
from extract.reading.sources import Split

SIZE_ROWS = 2048


def speeds(data: Path, weights: str, size: int, limit: int, repeats: int, engine_dir: Path) -> dict[str, float]:
    """{set: images/s} of decode + forward pass on the TFLite engine, `limit` images of `data`."""
    every = sorted(str(p) for p in data.rglob("*.jpg"))
    paths = every[:: max(1, len(every) // limit)][:limit]  # spread over the folders: every class
    split = Split("bench", paths, np.zeros(len(paths), np.int64), paths=paths)
    runs = {}
    for name in NAMED_SETS:
        model = backbone.build_backbone(weights, size, source_of(name))
        runs[name] = engines.make_engine("tflite", model, backbone.weights_sha256(model), size, 32, engine_dir)

    def one_pass(engine) -> float:
        started = time.perf_counter()
        for _, batch in pipeline.batches(split, 0, size, 32, backbone=backbones.DEFAULT):
            engine(batch)
        return time.perf_counter() - started

    for engine in runs.values():
        one_pass(engine)  # warm-up: the file cache, the interpreter
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, engine in runs.items():
            times[name].append(one_pass(engine))
    return {name: len(paths) / statistics.median(taken) for name, taken in times.items()}


def bytes_per_image(dtype: str) -> dict[str, float]:
    """{set: bytes of a cache file per image} with random rows of each set's blocks."""
    sizes = {}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for name in NAMED_SETS:
            source = source_of(name)
            path = Path(folder) / f"{name}-{dtype}.h5"
            writer = cache.CacheWriter(path, {"fingerprint": name, "class_names": ["a"]}, source.blocks, dtype)
            writer.add_split("train")
            rows = rng.random((SIZE_ROWS, source.width), dtype=np.float32)
            writer.append("train", rows, np.zeros(SIZE_ROWS), [f"class/{i:08d}.jpg" for i in range(SIZE_ROWS)], [], [])
            sizes[name] = writer.close().stat().st_size / SIZE_ROWS
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--limit", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine-dir", default="artifacts/engines")
    args = parser.parse_args()
    rates = speeds(Path(args.data), args.weights, args.image_size, args.limit, args.repeats, Path(args.engine_dir))
    sizes = {dtype: bytes_per_image(dtype) for dtype in ("float32", "float16")}
    print("| LAYERS | layers | values | img/s | × last | KB/image float32 | KB/image float16 |")
    print("|---|---|---|---|---|---|---|")
    for name in NAMED_SETS:
        source = source_of(name)
        print(
            f"| {name} | {len(source.layers)} | {source.width:,} | {rates[name]:.1f} | "
            f"{rates[name] / rates['last']:.2f} | {sizes['float32'][name] / 1024:.1f} | "
            f"{sizes['float16'][name] / 1024:.1f} |"
        )


if __name__ == "__main__":
    main()
