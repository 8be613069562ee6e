"""Each head's wall time and peak memory as the train split grows past memory (`make bench` rows).

The cache is synthetic: `rows` float16 rows × 1280 in train, written a block at a time, and a
validation and a test split of `SCORED` rows each (the scored splits stay small, so the rows
measure training). Each head runs as its own `python -m classify` process (`bench.peak`), start-up
included.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

import cache
from bench.peak import measured
from classify.config import HeadConfig
from extract.backbone import FEATURE_DIM
from workflow.paths import Paths

SCORED = 5000
WRITE_ROWS = 50_000  # rows generated and written at a time


def synthetic_cache(path: Path, rows: int, seed: int = 0) -> Path:
    """Two overlapping classes of ReLU'd Gaussian features, as pooled features are; the rows in a
    random order, as extraction stores a folder's (`extract.sources.in_row_order`)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1, (2, FEATURE_DIM)).astype(np.float32) * 0.08
    attrs = {"fingerprint": f"scale-{rows}", "dataset": "synthetic", "class_names": ["a", "b"], "versions": {}}
    writer = cache.CacheWriter(path, attrs, FEATURE_DIM, "float16")
    for split, count in (("train", rows), ("validation", SCORED), ("test", SCORED)):
        writer.add_split(split)
        for start in range(0, count, WRITE_ROWS):
            labels = rng.integers(0, 2, min(count, start + WRITE_ROWS) - start)
            noise = rng.standard_normal((len(labels), FEATURE_DIM), dtype=np.float32)
            features = np.maximum(noise + means[labels], 0)
            writer.append(split, features, labels, [f"{split}/{i}" for i in range(start, start + len(labels))], [], [])
        writer.set_split_attrs(split, n_inputs=count, seconds=0.0)
    return writer.close()


def measured_head(out: Path, head: str, memory_gb: float) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS in MB, its metrics.json entry) of `python -m classify` training one
    seed of one head."""
    args = ["--quiet", "--out", str(out), "--heads", head, "--seeds", "1", "--memory-gb", str(memory_gb)]
    seconds, peak = measured("classify", args)
    return seconds, peak, json.loads(Paths(out).heads_metrics.read_text())[head]


def scale_rows(sizes: tuple[int, ...], memory_gb: float) -> list[tuple]:
    """One row per head and train size; sizes whose float32 features exceed `memory_gb` stream."""
    result = []
    for rows in sizes:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            synthetic_cache(Paths(folder).cache, rows)
            written = time.perf_counter() - started
            for head in HeadConfig().heads:  # the default heads
                seconds, rss, entry = measured_head(Path(folder), head, memory_gb)
                how = "streamed" if entry["streamed"] else "in memory"
                detail = entry["choices"].split(";")[0] + (f", {entry['passes']} passes" if "passes" in entry else "")
                result.append(
                    (
                        f"{head} head, {rows:,} train rows × 1280 float16 ({how})",
                        "–",
                        f"{seconds:.0f} s, {rss:.0f} MB",
                        f"wall and peak RSS of the process; {detail}; test accuracy "
                        f"{entry['test']['accuracy']:.3f}; cache written in {written:.0f} s",
                    )
                )
    return result


def solver_rows(cache_path: Path, seeds: int = 3) -> list[tuple]:
    """Out-of-core logistic regression on a real cache's protocol rows, against the in-memory fit:
    L-BFGS over full passes (what `make heads` streams with) and the alternative it replaced,
    streaming SGD (`SGDClassifier.partial_fit`, log loss, α = 1/(C·n) at the in-memory C), its
    epochs and averaging varied. Accuracy on the scored split. Not in `make bench` (a design
    record): `python -c "from bench.scale import solver_rows; print(solver_rows('artifacts/features.h5'))"`."""
    from sklearn.linear_model import SGDClassifier

    from classify.heads.logreg import train_logreg
    from classify.linear import streamed_logreg
    from classify.part import every_view
    from classify.protocol import parts_of, protocol_of

    parts = parts_of(cache_path, protocol_of(cache_path, HeadConfig().dev_fraction))
    X, y, groups = every_view(parts.fit.load())
    score = parts.score.load(views=False)

    def accuracy(model) -> float:
        return float(np.mean(model.predict(score.features.astype(np.float32)) == score.labels))

    in_memory, record = train_logreg(HeadConfig(), X, y, groups)
    streamed, passes = streamed_logreg(parts.fit, record["best_C"], in_memory, 0)
    result = [
        ("logistic regression in memory (lbfgs)", "–", f"{accuracy(in_memory):.3f}", f"C {record['best_C']:g}"),
        ("streamed L-BFGS over full passes", "–", f"{accuracy(streamed):.3f}", f"{passes} passes"),
    ]
    scaled = in_memory.named_steps["scale"]
    for average in (False, True):
        for epochs in (1, 5, 20):
            accuracies = []
            for seed in range(seeds):
                sgd = SGDClassifier(loss="log_loss", alpha=1 / (record["best_C"] * len(X)), average=average)
                sgd.set_params(random_state=seed)
                for epoch in range(epochs):
                    order = np.random.default_rng((seed, epoch)).permutation(len(X))
                    for block in np.array_split(order, 4):  # four blocks a pass, as streaming would
                        sgd.partial_fit(scaled.transform(X[block]), y[block], classes=np.unique(y))
                predicted = sgd.predict(scaled.transform(score.features.astype(np.float32)))
                accuracies.append(float(np.mean(predicted == score.labels)))
            result.append(
                (
                    f"streamed SGD, {epochs} epochs{', averaged' if average else ''}",
                    "–",
                    f"{min(accuracies):.3f}–{max(accuracies):.3f}",
                    f"seeds 0–{seeds - 1}",
                )
            )
    return result
