"""Out-of-core logistic regression against the in-memory fit and SGD on a real cache (BENCHMARKS.md,
the solver record of the streamed heads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def solver_rows(cache_path: Path, seeds: int = 3) -> list[tuple]:
    """Out-of-core logistic regression on a real cache's protocol rows, against the in-memory fit:
    L-BFGS over full passes (what `make heads` streams with) and the alternative it replaced,
    streaming SGD (`SGDClassifier.partial_fit`, log loss, α = 1/(C·n) at the in-memory C), its
    epochs and averaging varied. Accuracy on the scored split. Not in `make bench` (a design
    record): `python -c "from bench.experiments.solver import solver_rows;
    print(solver_rows('artifacts/features.h5'))"`."""
    from sklearn.linear_model import SGDClassifier

    from classify.config import HeadConfig
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
