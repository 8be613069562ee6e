"""`make finetune`: warm-start from the Dense head, train the top of MobileNetV2 end to end,
SEEDS times (resumable), each run keeping its best epoch on the choice rows; save the run with
the lowest choice loss and score it on the cache's own splits."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import keras

import cache
from cache.lock import holding_lock
from classify import heads, plots, saved, scored
from classify.protocol import protocol_of, recorded
from extract import engines
from extract.backbone import matching_backbone
from extract.identity import file_sha256
from finetune.config import FinetuneConfig
from finetune.data import cached_splits, roles_of
from finetune.model import build_finetune_model
from finetune.runs import load_best, score_splits, scored_of, summary, train_runs


@holding_lock("make finetune")
def run(config: FinetuneConfig, progress: bool = True) -> dict:
    """Fine-tune every run, resuming an interrupted one; metrics in metrics.json's shape (also written)."""
    paths = config.paths
    meta = cache.info(paths.cache)
    _, head_record = saved.load(config.out, "dense", meta["fingerprint"])  # refuses a head of another cache
    n_classes = len(meta["class_names"])
    if engines.has_gpu():  # before any layer is built: the policy applies to layers made after it
        keras.mixed_precision.set_global_policy("mixed_float16")
    learning_rate = config.learning_rate or head_record["config"]["learning_rate"] / 10
    protocol = protocol_of(paths.cache, config.dev_fraction)
    saved.check_protocol(head_record, recorded(protocol))  # fine-tuning excludes nothing
    splits = cached_splits(paths, meta)
    roles = roles_of(splits, protocol)

    def make_model(seed: int) -> keras.Model:
        head, _ = saved.load(config.out, "dense")  # a fresh copy of the trained head for each run
        base = matching_backbone(meta, config.weights, "the cache")
        model = build_finetune_model(base, head, config.fine_tune_at)
        heads.compile_dense(model, n_classes, learning_rate)
        return model

    decides = {
        "learning_rate": learning_rate,
        "head": file_sha256(paths.model("dense")),
        "protocol": protocol.describe(),
    }
    results = train_runs("finetune", config, decides, make_model, roles, meta, progress)
    best = min(results, key=lambda r: r.choice_loss)
    model = make_model(best.seed)
    load_best(model, paths.run("finetune", best.seed))
    metrics = {
        "finetune": score_splits(model, splits, meta, config.batch)
        | summary(results)
        | {
            "saved_seed": best.seed,
            "epochs_run": len(best.history["loss"]),
            "best_epoch": best.best_epoch,
            "learning_rate": learning_rate,
            "fine_tune_at": config.fine_tune_at,
            "protocol": protocol.describe(),
            "choices": f"best epoch of each run on {protocol.choose}; saved run: lowest log loss on {protocol.choose}",
            "cache_fingerprint": meta["fingerprint"],
        }
    }
    # Everything is scored before anything is written, and finetune/ is replaced as one set: a
    # failure leaves the previous outputs.
    with cache.staged(paths, "finetune") as staged:
        record = saved.record_of(meta, {"head": "finetune", "config": asdict(config)})
        saved.save(model, staged, "finetune", record)
        scored.save(staged.scored("finetune"), scored_of(results, roles["score"], protocol.score))
        cache.write_text(staged.finetune_metrics, json.dumps(metrics, indent=2))
        _plot(best.history, paths.dense_history, staged.finetune_curve, protocol.choose)
    return metrics


def _plot(history: dict, frozen_history_path: Path, path: Path, choice: str) -> None:
    """The frozen-head phase (from `make heads`) then fine-tuning, marked where it starts."""
    frozen = json.loads(frozen_history_path.read_text()) if frozen_history_path.exists() else {}
    keys = [k for k in ("accuracy", "loss", "val_accuracy", "val_loss") if k in history]
    combined = {k: frozen.get(k, []) + history[k] for k in keys}
    if any(len(v) != len(combined["loss"]) for v in combined.values()):
        combined = {k: history[k] for k in keys}
        frozen = {}
    starts = {"fine-tuning starts": len(frozen.get("loss", []))} if frozen else None
    plots.learning_curves(
        combined, path, "Frozen head on cached features, then fine-tuning", starts, validation_name=choice
    )
