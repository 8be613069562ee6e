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
import json
import os
from pathlib import Path

from extract.feature_source import PREPROCESSING  # noqa: F401  (re-exported)

MODEL_NAME = "MobileNetV2(alpha=1.0, include_top=False, pooling=avg)"
FEATURE_DIM = 1280  # the last layer's block
# Keras ships ImageNet MobileNetV2 weights for these input sides and loads 224's otherwise.
KERAS_IMAGENET_SIZES = (96, 128, 160, 192, 224)


def digest(value) -> str:
    """sha256 of a JSON-able value, keys sorted."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


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


def keras_imagenet_file(image_size: int) -> Path:
    """Where Keras keeps (or would download) the ImageNet no-top weights for this input side."""
    rows = image_size if image_size in KERAS_IMAGENET_SIZES else 224
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"


def weights_file(weights: str, image_size: int) -> Path | None:
    """The local file behind a WEIGHTS setting, or None where there is none yet (not downloaded)."""
    path = keras_imagenet_file(image_size) if weights == "imagenet" else Path(weights)
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
) -> str | None:
    """The cheap stand-in for the fingerprint, or None where the weights file is not on disk yet.

    `data_key` is the source's cheap fingerprint (`sources.cheap_fingerprint`)."""
    path = weights_file(weights, image_size)
    if path is None:
        return None
    return digest(
        {
            "model": MODEL_NAME,
            "preprocessing": PREPROCESSING,
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
