"""`make finetune`: warm-start from a cached head, train the top of the cache's backbone end to end,
SEEDS times (resumable), each run keeping its best epoch on the choice rows (the start, epoch 0,
included); save the run with the lowest choice loss and score it on the cache's own splits.

The searched recipe (default) starts from the cached head with the lowest choice loss, chooses
the peak rate and depth on the choice rows (`finetune.search`), and runs warm-up then cosine
decay; FT_RECIPE=tutorial keeps the tutorial's: the Dense head, a fixed rate and depth."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import keras

import cache
from cache.lock import holding_lock
from classify import plots, saved, scored
from classify.heads import network
from classify.protocol import protocol_of, recorded
from classify.seen import trained_on
from extract.network import engines
from extract.network.backbone import matching_backbone
from extract.network.feature_source import recorded_source, source_in
from extract.recorded.identity import file_sha256
from finetune.config import TUTORIAL_HEAD, FinetuneConfig
from finetune.data import cached_splits, roles_of
from finetune.model import build_finetune_model
from finetune.runs import load_best, score_splits, scored_of, seen_end_to_end, summary, train_runs
from finetune.search import search
from finetune.start import best_head, start_head


@holding_lock("make finetune")
def run(config: FinetuneConfig, progress: bool = True) -> dict:
    """Fine-tune every run, resuming an interrupted one; metrics in metrics.json's shape (also written)."""
    paths = config.paths
    meta = cache.info(paths.cache)
    backbone = recorded_source(meta, config.backbone, "the cache").network
    # the depths the backbone names, where the settings leave them unset
    config = replace(
        config,
        fine_tune_at=config.fine_tune_at or backbone.fine_tune_at,
        search_depths=config.search_depths or list(backbone.fine_tune_depths),
    )
    n_classes = len(meta["class_names"])
    searched = config.recipe == "searched"
    start = best_head(paths) if searched else TUTORIAL_HEAD
    start_head(config.out, start, meta["fingerprint"])  # refuses a head of another cache
    if engines.has_gpu():  # before any layer is built: the policy applies to layers made after it
        keras.mixed_precision.set_global_policy("mixed_float16")
    protocol = protocol_of(paths.cache, config.dev_fraction, config.groups)
    # fine-tuning excludes nothing: a head fitted without some train rows, or on today's choice rows, is refused
    saved.check_protocol(saved.load_record(config.out, start), recorded(protocol, config.class_weight), start)
    splits = cached_splits(paths, meta)
    roles = roles_of(splits, protocol)
    steps = network.steps_per_epoch(int(roles["fit"][1].sum()), config.batch)

    layers = source_in(saved.load_record(config.out, start))  # the feature blocks the start head chose

    def warm_model(learning_rate, fine_tune_at: str) -> keras.Model:
        head = start_head(config.out, start, meta["fingerprint"])  # a fresh copy for each run
        base = matching_backbone(meta, config.weights, "the cache", layers)
        model = build_finetune_model(base, head, fine_tune_at)
        network.compile_dense(model, n_classes, learning_rate)
        return model

    decides = {"start": start, "head": file_sha256(saved.model_path(paths, start)), "protocol": protocol.describe()}

    def candidate(peak_rate: float, fine_tune_at: str, steps: int) -> keras.Model:
        return warm_model(warmup_cosine(peak_rate, steps), fine_tune_at)

    if searched:
        found = search(config, decides, candidate, roles, meta, progress)
        learning_rate, fine_tune_at = found["chosen"]["learning_rate"], found["chosen"]["fine_tune_at"]
        schedule = warmup_cosine(learning_rate, config.epochs * steps)  # stateless: shared by the runs
    else:
        found = None
        head_rate = saved.load_record(config.out, TUTORIAL_HEAD)["config"]["learning_rate"]
        learning_rate = config.learning_rate or head_rate / 10
        fine_tune_at = config.fine_tune_at
        schedule = learning_rate

    def make_model(seed: int) -> keras.Model:
        return warm_model(schedule, fine_tune_at)

    decides |= {"learning_rate": learning_rate, "fine_tune_at": fine_tune_at}
    results = train_runs("finetune", config, decides, make_model, roles, meta, progress, warm_start=True)
    if found:  # the search's cost is the method's: every run needs it
        results = [replace(r, search_seconds=found["seconds"]) for r in results]
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
            "start_won": best.best_epoch == 0,
            "recipe": config.recipe,
            "start": start,
            "learning_rate": learning_rate,
            "schedule": "warm-up then cosine decay" if searched else "constant",
            "fine_tune_at": fine_tune_at,
            "search": found,
            "curve": {"choice_loss": best.choice_losses, "loss": best.history["loss"]},
            "protocol": protocol.describe(),
            "choices": _choices(config, protocol.choose),
            "cache_fingerprint": meta["fingerprint"],
            "trained_on": trained_on(meta, config.class_weight, list(layers.layers), **seen_end_to_end(config)),
        }
    }
    # Everything is scored before anything is written, and finetune/ is replaced as one set: a
    # failure leaves the previous outputs.
    with cache.staged(paths, "finetune") as staged:
        tapped = {"feature_source": saved.load_record(config.out, start)["feature_source"]}  # the start head's blocks
        record = saved.record_of(meta, {"head": "finetune", "config": asdict(config)} | tapped)
        saved.save(model, staged, "finetune", record)
        scored.save(staged.scored("finetune"), scored_of(results, roles["score"], protocol.score))
        cache.write_text(staged.finetune_metrics, json.dumps(metrics, indent=2))
        # the frozen phase shown before fine-tuning: the start's epochs, where it was trained by epochs
        _plot(best.history, paths.history(start), staged.finetune_curve, protocol.choose)
    return metrics


def warmup_cosine(peak: float, steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """A linear warm-up to `peak` over the first tenth of `steps`, then cosine decay to 0 at `steps`."""
    warmup = max(1, steps // 10)
    return keras.optimizers.schedules.CosineDecay(0.0, max(1, steps - warmup), warmup_target=peak, warmup_steps=warmup)


def _choices(config: FinetuneConfig, choose: str) -> str:
    epochs = f"best epoch of each run on {choose}, epoch 0 (the start, before any step) included"
    runs = f"saved run: lowest log loss on {choose}"
    if config.recipe == "tutorial":
        return f"{epochs}; {runs}"
    return (
        f"start: the cached head with the lowest log loss on {choose} it did not tune on (cross-fitted); "
        f"peak rate from {config.search_rates} and "
        f"depth from {config.search_depths} by the lowest loss on {choose} after {config.search_steps} steps each; "
        f"{epochs}; {runs}"
    )


def _plot(history: dict, frozen_history_path: Path | None, path: Path, choice: str) -> None:
    """The frozen-head phase (from `make heads`; None: no such phase) then fine-tuning, marked where it starts."""
    frozen = json.loads(frozen_history_path.read_text()) if frozen_history_path and frozen_history_path.exists() else {}
    keys = [k for k in ("accuracy", "loss", "val_accuracy", "val_loss") if k in history]
    combined = {k: frozen.get(k, []) + history[k] for k in keys}
    if any(len(v) != len(combined["loss"]) for v in combined.values()):
        combined = {k: history[k] for k in keys}
        frozen = {}
    starts = {"fine-tuning starts": len(frozen.get("loss", []))} if frozen else None
    title = "Frozen head on cached features, then fine-tuning" if frozen else "Fine-tuning"
    plots.learning_curves(combined, path, title, starts, validation_name=choice)
