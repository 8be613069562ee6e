"""`make heads`: train each head SEEDS times on the protocol's fit rows, choose on its choice
rows, score on every other split, and keep every run's probabilities on the scored split."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import log_loss

import cache
from cache.lock import exclusive
from classify import features, plots, saved, scored, seen
from classify.config import HeadConfig
from classify.heads import REGISTRY, Head, check_trainable
from classify.metrics import score
from classify.protocol import Protocol, Rows, parts_of, protocol_of, read_ids, recorded
from classify.weights import class_weights, record
from extract.network.feature_source import recorded_source, source_in
from extract.running.build import data_change
from workflow.paths import Paths


@dataclass
class Run:
    seed: int
    model: Head  # fitted: its `record` (C chosen, epochs run) goes to metrics.json, its `history` to a curve
    seconds: float
    choice_loss: float  # log loss on the choice rows: how the saved run is picked


def run(config: HeadConfig, progress: bool = False) -> dict:
    """Train the chosen heads; returns metrics in metrics.json's shape (also written there).

    Every head is trained and scored before anything is written, and heads/ is replaced as one
    set, so a failure leaves the previous heads/ as it was. `progress`: bars for the fits streamed
    from the cache, which take minutes; in-memory fits show none."""
    cache_path = config.paths.cache
    meta = cache.info(cache_path)
    recorded_source(meta, config.backbone, "the cache")
    protocol = protocol_of(cache_path, config.dev_fraction, config.groups)
    exclude = read_ids(config.exclude) if config.exclude else frozenset()
    rows = parts_of(cache_path, protocol, exclude)
    check_trainable(rows.fit.labels, meta["class_names"])
    if rows.fit.nbytes <= config.memory_gb * 2**30:
        rows = replace(rows, fit=rows.fit.load())
    if rows.choose.nbytes <= config.memory_gb * 2**30:  # read once, not each epoch
        rows = replace(rows, choose=rows.choose.load())
    trained = [head for name in config.heads for head in train_head(name, config, meta, protocol, rows, progress)]
    change = data_change(config.paths)
    excluded = exclude.intersection(cache.ids(cache_path, "train")) if exclude else frozenset()
    for head in trained:
        head.entry["data_changed"] = change  # trained on features of data that is no longer there
        head.entry["excluded"] = {"file": config.exclude, "train_rows": len(excluded)}
        blocks = head.entry["features"]["layers"]
        head.entry["trained_on"] = seen.trained_on(meta, config.class_weight, blocks, excluded)
    record = {"config": asdict(config), "protocol": recorded(protocol, config.class_weight, excluded)}
    with exclusive(config.paths.lock, "make heads"), cache.staged(config.paths, "heads") as paths:
        for head in trained:
            save_head(head, record, meta, protocol, paths)
        return write_metrics(paths.heads_metrics, {head.name: head.entry for head in trained})


def fit(name: str, config: HeadConfig, rows: Rows, n_classes: int, progress: bool = False) -> Head:
    """One head trained on every view of the fit rows, with `config.seed`. The fit rows are in
    memory, or streamed from the cache when larger than `config.memory_gb`: the head reads them
    alike. Choices (early stopping, k) see the choice rows' images as they are."""
    weights = class_weights(rows.fit.labels, n_classes, config.class_weight)
    return REGISTRY[name](config).fit(rows.fit, rows.choose, n_classes, config.seed, weights, progress)


def predict_blocks(predict, model, data) -> np.ndarray:
    """`predict(model, (n, K, D) features)` over rows, a block at a time."""
    return np.concatenate([predict(model, features) for features, _ in data.blocks()])


@dataclass
class Trained:
    name: str  # the head, or `<head>_tta`: the same runs scored with test-time augmentation
    best: Run  # the run saved for predict and export
    scored: scored.Scored  # every run on the scored split
    entry: dict  # its metrics.json entry


def train_head(
    name: str, config: HeadConfig, meta: dict, protocol: Protocol, rows: Rows, progress: bool = False
) -> list[Trained]:
    """Train every run of one head, choose the run to save on the choice rows, and score them all:
    on each image as it is, and, where the cache has views, also as `<name>_tta` (the mean
    probability over an image's views)."""
    n_classes = len(meta["class_names"])

    def as_they_are(model: Head, features: np.ndarray) -> np.ndarray:
        return model.predict_proba(features[:, 0])

    def one_run(seed: int, rows: Rows) -> Run:
        started = time.perf_counter()
        model = fit(name, replace(config, seed=seed), rows, n_classes, progress)
        seconds = time.perf_counter() - started
        model.record["class_weight"] = record(config.class_weight, model.record["class_weight"], meta["class_names"])
        choice = predict_blocks(as_they_are, model, rows.choose)
        return Run(seed, model, seconds, float(log_loss(rows.choose.labels, choice, labels=range(n_classes))))

    # each candidate set of feature blocks trains the first seed's run; the lowest choice loss keeps its set
    blocks = meta["blocks"]
    tried = {}
    for label, layers in features.candidates(config.features, blocks, source_in(meta).backbone).items():
        chosen = rows if layers == tuple(blocks) else rows.only(layers, blocks)
        tried[label] = (one_run(config.seed, chosen), chosen, layers)
    label = min(tried, key=lambda key: tried[key][0].choice_loss)
    first, rows, layers = tried[label]
    runs = [first] + [one_run(seed, rows) for seed in range(config.seed + 1, config.seed + config.seeds)]
    losses = {key: run.choice_loss for key, (run, _, _) in tried.items()}
    used = {
        "features": label,
        "layers": list(layers),
        "width": rows.fit.dim,
        "choice_losses": losses,
        "described": features.described(label, layers, blocks, losses, protocol.choose),
    }
    for run in runs:
        run.model.record["features"] = used
    best = min(runs, key=lambda r: r.choice_loss)

    def over_views(model: Head, features: np.ndarray) -> np.ndarray:
        count, views, dim = features.shape
        return model.predict_proba(features.reshape(-1, dim)).reshape(count, views, -1).mean(axis=1)

    trained = [evaluate(name, as_they_are, 1, runs, best, config, meta, protocol, rows)]
    views = rows.score.views
    if views > 1:
        trained.append(evaluate(f"{name}_tta", over_views, views, runs, best, config, meta, protocol, rows))
        trained[-1].entry["choices"] += (
            f"; test-time augmentation: the mean probability over each image's {views} views"
        )
    return trained


def evaluate(
    name: str,
    predict,
    passes: int,
    runs: list[Run],
    best: Run,
    config: HeadConfig,
    meta: dict,
    protocol: Protocol,
    rows: Rows,
) -> Trained:
    """Score every run on the scored split and the saved run on every other split, with `predict`
    (model, (N, K, D) features) -> (N, C) probabilities, which needs `passes` views of a new image."""
    started = time.perf_counter()
    on_scored = np.stack([predict_blocks(predict, r.model, rows.score) for r in runs])
    head_seconds = (time.perf_counter() - started) / len(runs) / len(rows.score)
    # A new image needs its features first: the cache's extraction time per view, for each view
    # the method uses, plus the head.
    extraction = extraction_seconds_per_image(meta) / meta.get("views", 1) * passes
    every_run = scored.Scored(
        protocol.score,
        rows.score.ids(),
        rows.score.labels,
        on_scored,
        [r.seed for r in runs],
        np.array([r.seconds for r in runs]),
        extraction + head_seconds,
    )
    class_names = meta["class_names"]
    entry = (
        {
            split: score(predict_blocks(predict, best.model, part), part.labels, class_names)
            for split, part in rows.others.items()
        }
        | {
            "train_seconds": float(np.mean([r.seconds for r in runs])),
            "runs": [
                {"seed": r.seed, "train_seconds": r.seconds, "choice_loss": r.choice_loss} | r.model.record
                for r in runs
            ],
            "saved_seed": best.seed,
            "protocol": protocol.describe(),
            "choices": f"{best.model.record['features']['described']}; {best.model.choices(protocol.choose)}; "
            f"saved run: lowest log loss on {protocol.choose}",
            "inference_ms_per_image": 1000 * (extraction + head_seconds),
            "cache_fingerprint": meta["fingerprint"],
            "class_counts": {
                role: dict(zip(class_names, np.bincount(part.labels, minlength=len(class_names)).tolist(), strict=True))
                for role, part in (("fit", rows.fit), ("choose", rows.choose), ("score", rows.score))
            },
        }
        | best.model.record
    )
    return Trained(name, best, every_run, entry)


def save_head(head: Trained, record: dict, meta: dict, protocol: Protocol, paths: Paths) -> None:
    """The saved model and its record (`record`: the settings and the protocol it was trained
    under), every run's scores, and the curve of a head trained by epochs (a `_tta` entry: its
    scores alone, the model being its head's)."""
    scored.save(paths.scored(head.name), head.scored)
    if head.name.endswith("_tta"):
        return
    # predict and export rebuild the backbone from this record: with the blocks the head chose
    layers = tuple(head.best.model.record["features"]["layers"])
    source = replace(source_in(meta), layers=layers).to_record()
    extra = {"head": head.name, "feature_source": source} | record
    saved.save(head.best.model, paths, head.name, saved.record_of(meta, extra))
    history = head.best.model.history
    if history is not None:
        cache.write_text(paths.history(head.name), json.dumps(history))
        plots.learning_curves(
            history,
            paths.curve(head.name),
            f"{head.best.model.title} ({meta['dataset']})",
            validation_name=protocol.choose,
        )


def extraction_seconds_per_image(meta: dict) -> float:
    """The cache's extraction wall seconds per image (every split; all of an image's views)."""
    splits = meta["splits"].values()
    return sum(s["seconds"] for s in splits) / max(1, sum(s["rows"] for s in splits))


def write_metrics(path: Path, results: dict) -> dict:
    """Merge into an existing metrics file, keeping other methods' entries for the same cache."""
    fingerprint = next(iter(results.values()))["cache_fingerprint"]
    merged = {}
    if path.exists():
        try:
            merged = {
                k: v for k, v in json.loads(path.read_text()).items() if v.get("cache_fingerprint") == fingerprint
            }
        except (json.JSONDecodeError, AttributeError):
            merged = {}
    merged |= results
    cache.write_text(path, json.dumps(merged, indent=2))
    return merged
