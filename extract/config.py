"""Every setting of `make features` (`python -m extract`), with its default and help, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from extract import backbones
from extract.network.feature_source import DEFAULT_LAYERS, NAMED_SETS, FeatureSource, source_of
from extract.recorded import identity
from extract.recorded.holdout import DEV_FRACTION
from workflow.cli import option
from workflow.paths import Paths


@dataclass
class ExtractConfig:
    data: str = option(
        "tfds:cats_vs_dogs",
        "'tfds:<name>' (the tutorial's 80/10/10 split of its train split) or "
        "a folder: train/ validation/ (or val/) [test/] of class folders, or class folders alone (split "
        "80/10/10 by a hash of each file's path, stable when files are added); any number of classes, named by "
        "their sorted folder names",
        make="DATA",
    )
    backbone: str = option(backbones.DEFAULT, backbones.HELP, make="BACKBONE")
    weights: str = option(
        "imagenet",
        "'imagenet' (downloaded by Keras) or a path to the backbone's no-top Keras weights: the .h5 Keras "
        "downloads, or a Keras 3 .weights.h5; later stages use the same ones",
        make="WEIGHTS",
    )
    image_size: int | None = option(
        None, "square input side in pixels (unset: the backbone's own, BACKBONE's help)", make="IMG_SIZE"
    )
    layers: str = option(
        DEFAULT_LAYERS,
        f"the backbone's layers whose pooled outputs the cache keeps, one feature block each: {', '.join(NAMED_SETS)} "
        "(extract/backbones/) or a comma list of layer names; one forward pass",
        make="LAYERS",
    )
    out: str = option("artifacts", "output folder; the cache is <out>/features.h5", make="OUT")
    batch: int = option(32, "images per forward pass", make="BATCH")
    limit: int | None = option(
        None,
        "about this many images per split, for quick runs (stable, stratified: at least 5 of each class, "
        "all of a smaller one; a TFDS split gives its first LIMIT, in the order TFDS shuffled it into)",
        make="LIMIT",
    )
    engine: str = option(
        "auto",
        "auto: keras on a GPU, tflite (XNNPACK, fp32) on a CPU",
        choices=("auto", "keras", "tflite"),
        make="ENGINE",
    )
    dtype: str = option(
        "float32", "feature precision on disk (float16 halves the cache)", choices=("float32", "float16"), make="DTYPE"
    )
    precision: str = option(
        "float32",
        "arithmetic of the TFLite engine: int8 (up to about twice as fast, on CPUs with fast 8-bit arithmetic) is "
        "calibrated on CALIBRATION train images and checked against float32 on the choice rows, speed included",
        choices=identity.PRECISIONS,
        make="PRECISION",
    )
    calibration: int = option(
        identity.CALIBRATION_IMAGES,
        "int8: train images it is calibrated on (a stable sample by hash, every class in it)",
        make="CALIBRATION",
    )
    dev_fraction: float = option(
        DEV_FRACTION,
        "int8: the part of each class's train images that makes the choices where there is no test split (as for "
        "the heads, DEV_FRACTION): calibration never uses them, and the agreement check runs on them",
        make="DEV_FRACTION",
    )
    views: int = option(
        1,
        "views per image: the image itself plus views-1 augmented ones, each deterministic given the "
        "image and its index; heads train on every view and also score with test-time augmentation",
        make="VIEWS",
    )
    view_policy: str = option(
        "flip",
        "flip: the mirror image (2 views at most); finetune: fine-tuning's random flip, rotation and zoom",
        choices=("flip", "finetune"),
        make="VIEW_POLICY",
    )
    shard_size: int = option(1024, "images per resumable unit of work")
    engine_dir: str | None = option(None, "where converted TFLite models are kept (default <out>/engines)")
    force: bool = option(False, "rebuild even if the cache is up to date", make="FORCE")
    verify: bool = option(
        False,
        "hash every image file again, to catch edits that kept its size and modification "
        "time (one read of the whole dataset)",
        make="VERIFY",
    )
    tfds_data_dir: str | None = option(None, "TFDS data folder (TFDS's default if unset)")
    cluster: str | None = option(
        None,
        "local:N: extract on a Dask cluster of N worker processes on this machine, one task per shard; "
        "local-gpu: one worker per visible GPU (CUDA_VISIBLE_DEVICES), each with the Keras engine on its GPU "
        "(unset: one process, without Dask)",
        make="CLUSTER",
    )
    scheduler: str | None = option(
        None,
        "address of a running Dask scheduler (tcp://host:port) whose workers share this folder's storage "
        "and were started with --resources engine=1",
        make="SCHEDULER",
    )

    def __post_init__(self):
        source = self.source  # raises on an unknown backbone or layer, naming the nearest
        if self.image_size is None:
            self.image_size = source.network.image_size
        if not source.min_size <= self.image_size <= source.max_size:
            raise ValueError(
                f"image size must be from {source.min_size} ({source.network.title}'s minimum) to {source.max_size}, "
                f"got {self.image_size}"
            )
        if self.batch < 1 or self.shard_size < 1:
            raise ValueError("batch and shard size must be positive")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev fraction must be between 0 and 1, got {self.dev_fraction}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        if self.dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {self.dtype!r}")
        if self.cluster is not None and not re.fullmatch(r"local:[1-9][0-9]*|local-gpu", self.cluster):
            raise ValueError(f"cluster must be local:N (N worker processes) or local-gpu, got {self.cluster!r}")
        if self.cluster == "local-gpu" and self.engine == "tflite":
            raise ValueError("CLUSTER=local-gpu runs the Keras engine on each GPU: leave ENGINE unset, or keras")
        if self.precision == "int8" and self.engine == "keras":
            raise ValueError(
                "PRECISION=int8 runs on the TFLite engine (ENGINE=keras stays float32: on a GPU, "
                "mixed precision is its lever)"
            )
        if self.precision == "int8" and (self.cluster or self.scheduler):
            raise ValueError("PRECISION=int8 runs in one process: leave CLUSTER and SCHEDULER unset")
        if self.calibration < 1:
            raise ValueError(f"calibration must be at least 1 image, got {self.calibration}")
        if self.views < 1 or (self.view_policy == "flip" and self.views > 2):
            raise ValueError(f"views must be 1 or 2 with the flip policy (at least 1 otherwise), got {self.views}")

    @property
    def source(self) -> FeatureSource:
        """The feature-source record these settings build."""
        return source_of(self.layers, self.backbone)

    @property
    def paths(self) -> Paths:
        return Paths(self.out)

    @property
    def engine_path(self) -> Path:
        return Path(self.engine_dir) if self.engine_dir else self.paths.engines

    def quick_key(self, data_key: str) -> str | None:
        """`identity.quick_key` of these settings, given the source's cheap fingerprint."""
        return identity.quick_key(
            self.weights,
            self.image_size,
            self.engine,
            self.dtype,
            self.data,
            self.limit,
            data_key,
            (self.views, self.view_policy),
            (self.precision, self.calibration, *((self.dev_fraction,) if self.precision == "int8" else ())),
            ",".join(self.source.layers),
            self.backbone,
        )
