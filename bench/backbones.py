"""`make bench`'s backbone rows: extraction speed of every registered backbone on the real photos,
TFLite float32 and int8 where it converts, at 160 and 224 px, with its cache's size per image.

Only the default backbone has its ImageNet weights here (the shared file); Keras cannot download the
others offline, so they run on seeded random weights: the same arithmetic, so the same speed and
size, but their features mean nothing. These rows are speed, never accuracy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import cache
from extract import backbones
from extract.config import ExtractConfig
from extract.running import build

CALIBRATION = 20  # int8's calibration images: its speed does not depend on how many


def random_weights(name: str, folder: Path) -> Path:
    """Seeded random weights of a backbone, written as Keras writes them."""
    import keras

    keras.utils.set_random_seed(0)
    network = backbones.named(name)
    path = folder / f"{name}.weights.h5"
    network.construct(network.min_size, None).save_weights(path)
    return path


def extraction(
    data: Path,
    name: str,
    weights: Path | str,
    size: int,
    precision: str,
    folder: Path,
    limit: int,
    engine: str = "tflite",
):
    """(images/s of the build's extraction, from the cache's own per-split seconds; the cache's feature
    bytes per image, from its blocks: what a large cache holds per image, where a small one's file is
    mostly its chunks' padding and its attributes)."""
    config = ExtractConfig(
        data=str(data),
        backbone=name,
        weights=str(weights),
        image_size=size,
        out=str(folder / f"{name}-{size}-{precision}"),
        engine=engine,
        precision=precision,
        calibration=CALIBRATION,
        engine_dir=str(folder / "engines"),
        limit=limit,
        force=True,
    )
    summary = build.run(config, progress=False)
    images = sum(split.images for split in summary.splits)
    values = sum(cache.info(summary.path)["blocks"].values())
    return images / sum(split.seconds for split in summary.splits), values * np.dtype(config.dtype).itemsize


def backbone_rows(data: Path, weights: str, quick: bool) -> list[tuple]:
    """One row per backbone, size and precision. QUICK: one backbone beside the default (which other
    rows time), float32 on the Keras engine (a TFLite conversion of it takes most of a minute here),
    at its smallest size, a few photos per split: the row's code runs, its number means nothing."""
    names = ["efficientnet_v2_b0"] if quick else list(backbones.REGISTRY)
    sizes, precisions, limit = ((32,), ("float32",), 4) if quick else ((160, 224), ("float32", "int8"), 100)
    engine = "keras" if quick else "tflite"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            chosen = weights if name == backbones.DEFAULT else random_weights(name, Path(folder))
            kind = "its ImageNet weights" if name == backbones.DEFAULT else "random weights: speed only"
            for size in sizes:
                for precision in precisions:
                    measure = f"extraction, {name}, {'TFLite' if engine == 'tflite' else 'Keras'} {precision}"
                    try:
                        rate, per_image = extraction(data, name, chosen, size, precision, Path(folder), limit, engine)
                    except Exception as err:  # a backbone whose int8 conversion fails gets a row saying so
                        if precision != "int8":
                            raise
                        rows.append((measure, size, "does not convert", str(err).splitlines()[0][:120]))
                        continue
                    rows.append(
                        (
                            measure,
                            size,
                            f"{rate:.0f} img/s",
                            f"{kind}; cache {per_image / 1000:.1f} kB of features per image (LAYERS=blocks, "
                            f"{per_image // 4:,} values, float32); {limit} photos per split",
                        )
                    )
    return rows


if __name__ == "__main__":
    import sys

    from bench.__main__ import show
    from bench.config import BenchConfig

    config = BenchConfig(quick="--quick" in sys.argv[1:])
    show(config, backbone_rows(Path(config.data), config.weights, config.quick))
