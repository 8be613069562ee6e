"""Are the heads' choice losses comparable? (issue 32, item 6; BENCHMARKS.md)

Fine-tuning starts from the head with the lowest log loss on the choice rows, and the report used
to take the same loss to pick the verdict's baseline. Logistic regression chooses C by
cross-validation on the fit rows, but the k-NN head chooses k and its vote, and the Dense and MLP
heads their epoch (early stopping) and rate, on those very choice rows: their loss there is
tuned on, and may flatter them. This measures, for each head, its loss on the choice rows as
`make heads` sees it (tuned on all of them) against a cross-fitted loss on rows it did not tune
on: the choice rows cut into two stratified halves, the head tuned on one half and scored on the
other, both ways round, the two losses weighed by the halves' sizes. A head tuned on half the
rows has a little less to tune on, so the cross-fitted loss is, if anything, slightly pessimistic.

    .venv/bin/python -m bench.experiments.choice_losses OUT [HEADS...]

OUT: a folder holding features.h5; HEADS: the heads to measure (default: every head).
"""

from __future__ import annotations

import sys
import time

from classify.config import HeadConfig
from classify.crossfit import cross_fitted, loss_on
from classify.heads import REGISTRY
from classify.protocol import parts_of, protocol_of
from workflow.paths import Paths


def choice_gaps(out: str, heads: list[str] | None = None, seed: int = 0) -> list[dict]:
    """Per head: its loss on every choice row when tuned on them, its cross-fitted loss, the gap."""
    config = HeadConfig(out=out, seed=seed, jobs=1)
    cache_path = Paths(out).cache
    parts = parts_of(cache_path, protocol_of(cache_path, config.dev_fraction))
    n_classes = int(parts.fit.labels.max()) + 1
    fit, choose = parts.fit.load(), parts.choose.load()
    results = []
    for name in heads or list(REGISTRY):
        started = time.perf_counter()
        tuned = loss_on(REGISTRY[name](config).fit(fit, choose, n_classes, seed), choose, n_classes)
        crossfit = cross_fitted(name, config, fit, parts.choose, n_classes, seed)
        results.append(
            {
                "head": name,
                "choice_rows": len(choose),
                "tuned": tuned,
                "cross_fitted": crossfit,
                "gap": crossfit - tuned,
                "seconds": time.perf_counter() - started,
            }
        )
    return results


def main(argv: list[str]) -> None:
    out, heads = argv[0], argv[1:] or None
    results = choice_gaps(out, heads)
    print(f"{out}: {results[0]['choice_rows']} choice rows")
    print("| head | tuned on the choice rows | cross-fitted (untuned) | gap | seconds |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['head']} | {r['tuned']:.4f} | {r['cross_fitted']:.4f} | {r['gap']:+.4f} | {r['seconds']:.0f} |")
    for key in ("tuned", "cross_fitted"):
        print(f"lowest {key.replace('_', '-')} loss: {min(results, key=lambda r: r[key])['head']}")


if __name__ == "__main__":
    main(sys.argv[1:])
