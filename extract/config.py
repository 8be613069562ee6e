"""Every setting of the extraction stage, with its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cache


@dataclass
class ExtractConfig:
    data: str = "tfds:cats_vs_dogs"  # "tfds:<name>" or a folder of class folders (with or without train/ validation/ test/)
    weights: str = "imagenet"  # "imagenet" or a path to MobileNetV2 no-top Keras weights (.h5)
    image_size: int = 160  # square input side in pixels
    out: str = "artifacts"  # output folder; the cache is <out>/features.h5
    batch: int = 32  # images per forward pass
    limit: int | None = None  # at most this many images per split (a stable, class-mixed subset)
    engine: str = "auto"  # auto (keras on a GPU, tflite on a CPU), keras or tflite
    dtype: str = "float32"  # float32 or float16 features on disk
    shard_size: int = 1024  # images per resumable unit of work
    engine_dir: str | None = None  # where converted TFLite files are kept (<out>/engines if unset)
    force: bool = False  # rebuild even if the cache is up to date
    tfds_data_dir: str | None = None  # where TFDS keeps datasets (TFDS's default if unset)

    def __post_init__(self):
        if self.image_size < 32:
            raise ValueError(f"image size must be at least 32 (MobileNetV2's minimum), got {self.image_size}")
        if self.batch < 1 or self.shard_size < 1:
            raise ValueError("batch and shard size must be positive")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        if self.dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {self.dtype!r}")

    @property
    def cache_path(self) -> Path:
        return cache.path_in(self.out)

    @property
    def engine_path(self) -> Path:
        return Path(self.engine_dir) if self.engine_dir else Path(self.out) / "engines"
