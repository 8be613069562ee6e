"""The recipe this project exists to beat: TensorFlow's tutorial trains a head with the frozen
backbone inside `model.fit`, so every epoch runs the whole backbone over every image again.
Timed on the cache's own files and protocol, for the same epochs, to compare with features + heads."""

from __future__ import annotations

import json

import keras

import cache
from cache.lock import holding_lock
from classify import scored
from classify.heads import network
from classify.metrics import scores_of
from classify.protocol import protocol_of
from classify.seen import trained_on
from extract.network.backbone import matching_backbone
from extract.network.feature_source import recorded_source
from finetune.config import BaselineConfig
from finetune.data import cached_splits, roles_of
from finetune.model import build_finetune_model
from finetune.runs import scored_of, seen_end_to_end, summary, train_runs


@holding_lock("make baseline")
def run(config: BaselineConfig, progress: bool = True) -> dict:
    """Train and score the tutorial's frozen-base recipe; metrics in metrics.json's shape (also written)."""
    paths = config.paths
    meta = cache.info(paths.cache)
    n_classes = len(meta["class_names"])
    protocol = protocol_of(paths.cache, config.dev_fraction, config.groups)
    roles = roles_of(cached_splits(paths, meta), protocol)
    last = recorded_source(
        meta, config.backbone, "the cache"
    ).last_layer()  # the tutorial's recipe: a fresh head on the last layer's pooled features
    matching_backbone(meta, config.weights, "the cache", last)  # refuse other weights before any training

    def make_model(seed: int) -> keras.Model:
        head = network.build_dense(last.width, n_classes, dropout=0.2)
        base = matching_backbone(meta, config.weights, "the cache", last)
        model = build_finetune_model(base, head, fine_tune_at=None)
        network.compile_dense(model, n_classes, config.learning_rate)
        return model

    results = train_runs("tutorial", config, {"protocol": protocol.describe()}, make_model, roles, meta, progress)
    result = scored_of(results, roles["score"], protocol.score)
    (pooled,) = scores_of([result.probabilities], result.labels, n_classes)  # every run, as the report pools them
    on_scored = {
        "accuracy": float(pooled.estimate["accuracy"]),
        "balanced_accuracy": pooled.summary()["balanced_accuracy"],
        "macro_f1": pooled.summary()["macro_f1"],
        "per_class": pooled.per_class(meta["class_names"]),
    }
    metrics = {
        "tutorial": {protocol.score: on_scored}
        | summary(results)
        | {
            "epochs_run": len(results[0].history["loss"]),
            "protocol": protocol.describe(),
            "choices": f"best epoch of each run on {protocol.choose}",
            "cache_fingerprint": meta["fingerprint"],
            "trained_on": trained_on(meta, config.class_weight, list(last.layers), **seen_end_to_end(config)),
        }
    }
    with cache.staged(paths, "baseline") as staged:  # replaced as one set
        scored.save(staged.scored("tutorial"), result)
        cache.write_text(staged.baseline_metrics, json.dumps(metrics, indent=2))
    return metrics
