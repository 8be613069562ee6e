"""What decides the features, named without importing TensorFlow.

Two keys say whether a cache is what a run would build:
- the **fingerprint** (`fingerprint_of`): the model, the loaded weight values' hash, size,
  preprocessing, engine, dtype, data and, for int8, the calibration sample. Computing it means building the model.
- the **quick key** (`quick_key`): the same inputs as cheap facts (the weights file's sha256
  and size, the data's listing and file stats, the settings), so an up-to-date `make features`
  answers in well under a second, before TensorFlow is imported. The cache records the
  fingerprint; the quick key is kept beside it with the fingerprint it stands for.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from extract import backbones
from extract.reading.hashes import digest

# What decides one image's features, beside the image itself: not batch size, not library versions.
FEATURE_KEYS = (
    "model",
    "feature_source",
    "weights_sha256",
    "image_size",
    "preprocessing",
    "engine",
    "dtype",
    "views",
    "view_policy",
)


PRECISIONS = ("float32", "int8")  # the TFLite engine's arithmetic
CALIBRATION_IMAGES = 200  # PRECISION=int8 calibrates on this many train images by default (BENCHMARKS.md)
# int8 adds its calibration (precision and sample): absent, float32, and older caches keep their keys.
PRECISION_KEYS = ("precision", "calibration")


def _keys(attrs: dict, keys: tuple[str, ...]) -> dict:
    chosen = {key: attrs[key] for key in keys}
    if attrs.get("precision", "float32") != "float32":
        chosen |= {key: attrs[key] for key in PRECISION_KEYS}
    return chosen


def features_key(attrs: dict) -> str:
    """Two caches with the same features key hold the same features for the same file content."""
    return digest(_keys(attrs, FEATURE_KEYS))


def fingerprint_of(attrs: dict) -> str:
    """Everything that decides the cache: the features key's inputs and the data."""
    return digest(_keys(attrs, (*FEATURE_KEYS, "dataset", "dataset_fingerprint", "class_names")))


def keras_imagenet_file(image_size: int, backbone: str) -> Path:
    """Where Keras keeps (or would download) the backbone's ImageNet no-top weights for this input side."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / backbones.named(backbone).imagenet_file(image_size)


def weights_file(weights: str, image_size: int, backbone: str) -> Path | None:
    """The local file behind a WEIGHTS setting, or None where there is none yet (not downloaded)."""
    path = keras_imagenet_file(image_size, backbone) if weights == "imagenet" else Path(weights)
    return path if path.is_file() else None


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def gpu_visible() -> bool:
    """An NVIDIA driver is loaded: `ENGINE=auto` may resolve to the GPU (checked without TensorFlow)."""
    return os.path.exists("/proc/driver/nvidia/version") and os.environ.get("CUDA_VISIBLE_DEVICES") != ""


def quick_key(
    weights: str,
    image_size: int,
    engine: str,
    dtype: str,
    data: str,
    limit: int | None,
    data_key: str,
    views: tuple[int, str] = (1, "flip"),
    precision: tuple[str, int] = ("float32", 0),
    layers: str = "last",
    backbone: str = backbones.DEFAULT,
) -> str | None:
    """The cheap stand-in for the fingerprint, or None where the weights file is not on disk yet.

    `data_key` is the source's cheap fingerprint (`sources.cheap_fingerprint`)."""
    path = weights_file(weights, image_size, backbone)
    if path is None:
        return None
    network = backbones.named(backbone)
    return digest(
        {
            "backbone": backbone,
            "model": network.model,
            "preprocessing": network.preprocessing,
            "weights_file": [file_sha256(path), path.stat().st_size],
            "image_size": image_size,
            "engine": [engine, engine == "auto" and gpu_visible()],
            "dtype": dtype,
            "data": data,
            "limit": limit,
            "data_key": data_key,
            "views": list(views),
            "layers": layers,
        }
        | ({"precision": list(precision)} if precision[0] != "float32" else {})
    )
