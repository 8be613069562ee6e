"""`python -m classify.export` (`make export`): one deployable model per trained head.

Backbone + pooling + head fused into a single Keras model that maps a preprocessed image
(`extract.images.preprocess`) to class probabilities, saved as `<out>/export/model.keras`
and a float32 `<out>/export/model.tflite`. The logistic-regression pipeline becomes a Dense
layer with its standardisation folded into the weights; a one-logit binary head becomes a
two-way softmax, so every export gives (N, K) probabilities.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import cache  # noqa: E402
from classify import saved  # noqa: E402
from extract import engines  # noqa: E402
from extract.backbone import WeightsError  # noqa: E402


def folded_logreg(pipeline) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a Dense layer equal to StandardScaler + LogisticRegression's decision function."""
    scaler, logreg = pipeline.named_steps["scale"], pipeline.named_steps["logreg"]
    kernel = (logreg.coef_ / scaler.scale_).T
    bias = logreg.intercept_ - (logreg.coef_ * (scaler.mean_ / scaler.scale_)).sum(axis=1)
    return kernel, bias


def softmax_layer(kernel: np.ndarray, bias: np.ndarray) -> keras.layers.Dense:
    """A Dense softmax over K classes; one binary logit z becomes softmax([0, z]) = [1 - σ(z), σ(z)]."""
    if kernel.shape[1] == 1:
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.concatenate([np.zeros_like(bias), bias])
    layer = keras.layers.Dense(kernel.shape[1], activation="softmax", name="probabilities")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return layer


def fused_model(out: str | Path, head: str, weights: str) -> keras.Model:
    model, record = saved.load(out, head)
    size = record["image_size"]
    if head == "finetune":
        base, head_model = model.layers[-2:]  # finetune.model: [input, (augmentation), base, head]
    else:
        base, head_model = saved.backbone_for(record, weights, head), model
    if head == "logreg":
        hidden, (kernel, bias) = [], folded_logreg(model)
    else:
        hidden, (kernel, bias) = head_model.layers[:-1], head_model.layers[-1].get_weights()
    inputs = keras.Input((size, size, 3), name="image")
    x = base(inputs, training=False)
    for layer in hidden:
        x = layer(x, training=False)
    return keras.Model(inputs, softmax_layer(kernel, bias)(x), name=f"mobilenet_v2_{head}")


def export(out: str | Path, head: str, weights: str) -> tuple[Path, Path]:
    fused = fused_model(out, head, weights)
    directory = Path(out) / "export"
    with cache.atomic_path(directory / "model.keras") as tmp:
        fused.save(tmp)
    with cache.atomic_path(directory / "model.tflite") as tmp:
        tmp.write_bytes(engines.to_tflite(fused))
    return directory / "model.keras", directory / "model.tflite"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classify.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="artifacts", help="folder of the trained models; writes <out>/export/")
    parser.add_argument("--head", default="logreg", choices=tuple(saved.MODELS), help="which trained model")
    parser.add_argument("--weights", default="imagenet", help="backbone weights the head was trained with")
    args = parser.parse_args(argv)
    try:
        paths = export(args.out, args.head, args.weights)
    except (cache.CacheError, WeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
