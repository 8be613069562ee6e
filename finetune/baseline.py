"""The recipe this project exists to beat: TensorFlow's tutorial trains a head with the frozen
MobileNetV2 inside `model.fit`, so every epoch runs the whole backbone over every image again.
Timed on the cache's own splits, for the same epochs, to compare with features + heads."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import cache  # noqa: E402
from classify import heads  # noqa: E402
from extract import backbone  # noqa: E402
from finetune.data import cached_splits  # noqa: E402
from finetune.model import build_finetune_model  # noqa: E402
from finetune.runner import evaluate, training_data  # noqa: E402


def run_baseline(out: str, weights: str, epochs: int = 10, batch: int = 32, learning_rate: float = 1e-4,
                 augment: bool = True, seed: int = 0, verbose: int = 1) -> dict:
    cache_path = cache.path_in(out)
    meta = cache.info(cache_path)
    n_classes = len(meta["class_names"])
    keras.utils.set_random_seed(seed)
    head = heads.build_dense(backbone.FEATURE_DIM, n_classes, dropout=0.2)
    model, _ = build_finetune_model(weights, meta["image_size"], head, fine_tune_at=None, augment=augment, seed=seed)
    heads.compile_dense(model, n_classes, learning_rate)
    splits = cached_splits(cache_path, meta)
    train, validation = training_data(splits, meta, batch, seed)
    started = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=verbose, shuffle=False)
    seconds = time.perf_counter() - started
    metrics = {"tutorial": evaluate(model, splits, meta, batch) | {
        "train_seconds": seconds, "epochs_run": len(history.history["loss"]),
        "cache_fingerprint": meta["fingerprint"],
    }}
    cache.write_text(Path(out) / "baseline" / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m finetune.baseline",
        description="Time the tutorial's recipe on the cache's splits: a fresh Dense head trained with the "
        "frozen MobileNetV2 inside model.fit (features recomputed every epoch). Writes "
        "<out>/baseline/metrics.json, which `make report` includes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="artifacts", help="folder holding features.h5")
    parser.add_argument("--weights", default="imagenet", help="the weights the cache was built with")
    parser.add_argument("--epochs", type=int, default=10, help="epochs, as the heads' EPOCHS for a fair comparison")
    parser.add_argument("--batch", type=int, default=32, help="batch size")
    args = parser.parse_args(argv)
    try:
        metrics = run_baseline(args.out, args.weights, args.epochs, args.batch)
    except cache.CacheError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    entry = metrics["tutorial"]
    print(f"tutorial recipe: validation accuracy {entry.get('validation', {}).get('accuracy')}, "
          f"{entry['train_seconds']:.1f} s for {entry['epochs_run']} epochs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
