"""The numbers and the sentences of the verdict: each method's accuracy with its interval, its
spread over runs, its paired difference from the best method, and what it cost.

No winner is named where the paired interval holds zero: those methods are "within noise"; and
one is named "more accurate" only where McNemar's test agrees (p < ALPHA).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from report import stats
from report.collect import USES_CACHE, Method

ALPHA = 0.05  # McNemar's level for naming a winner


@dataclass
class Row:
    method: Method
    correct: np.ndarray  # (runs, images)
    accuracy: stats.Interval
    run_accuracies: list[float]
    versus_best: stats.Interval | None  # this minus the best, paired; None for the best itself
    mcnemar_p: float | None

    @property
    def runs(self) -> int:
        return len(self.run_accuracies)


def rows_of(methods: list[Method]) -> list[Row]:
    """One row per method, the best (highest mean accuracy) first, then the table's order."""
    correct = {id(m): stats.correctness(m.scored.probabilities, m.scored.labels) for m in methods}
    accuracy = {id(m): stats.accuracy_interval(correct[id(m)]) for m in methods}
    best = max(methods, key=lambda m: accuracy[id(m)].estimate)
    rows = []
    for method in [best] + [m for m in methods if m is not best]:
        mine = correct[id(method)]
        is_best = method is best
        rows.append(
            Row(
                method,
                mine,
                accuracy[id(method)],
                mine.mean(axis=1).tolist(),
                None if is_best else stats.paired_difference(mine, correct[id(best)]),
                None if is_best else stats.mcnemar_p(mine, correct[id(best)]),
            )
        )
    return rows


def points(value: float) -> str:
    return f"{100 * value:+.1f}"


def compare(a: Row, b: Row, delta: stats.Interval, p: float) -> str:
    """One sentence on two methods, on the same images, given the paired difference a − b and
    McNemar's p. A winner is named only where both tests agree: the interval excludes zero and p
    is under ALPHA. Where only the interval does, the sentence says the edge is uncertain."""
    ahead, behind = (a, b) if delta.estimate >= 0 else (b, a)
    sign = 1 if ahead is a else -1
    low, high = sorted((sign * delta.low, sign * delta.high))
    numbers = (
        f"Δ = {points(sign * delta.estimate)} points for {ahead.method.label}, 95% CI "
        f"[{points(low)}, {points(high)}], McNemar p = {p:.2g}"
    )
    if delta.holds(0.0):
        return f"{a.method.label} and {b.method.label} are within noise ({numbers})"
    if p < ALPHA:
        return f"{ahead.method.label} is more accurate than {behind.method.label} ({numbers})"
    return (
        f"{ahead.method.label} is ahead of {behind.method.label}, but McNemar's test does not confirm it: "
        f"a small, uncertain edge ({numbers})"
    )


def cost_ratio(a: Method, b: Method) -> str:
    """How many times a's training time b's is, in words."""
    ratio = float(np.mean(a.scored.train_seconds)) / max(float(np.mean(b.scored.train_seconds)), 1e-9)
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def sentences(rows: list[Row]) -> list[str]:
    """The verdict: is fine-tuning worth it over the best head on the cache, and at what cost;
    then every other method against the best; then any method that ran once."""
    best = rows[0]
    said = []
    tuned = [r for r in rows if r.method.name == "finetune"]
    cached = [r for r in rows if r.method.name in USES_CACHE]
    pairs = []  # (fine-tuning, the most accurate cached head of its folder)
    for tune in tuned:
        head = max(
            (r for r in cached if r.method.out == tune.method.out), key=lambda r: r.accuracy.estimate, default=None
        )
        if head is None:
            continue
        pairs.append((tune, head))
        cost = f"fine-tuning cost {cost_ratio(tune.method, head.method)} the training time of {head.method.label}"
        delta = stats.paired_difference(tune.correct, head.correct)
        said.append(f"{compare(tune, head, delta, stats.mcnemar_p(tune.correct, head.correct))}; {cost}.")
    covered = {frozenset((id(tune.method), id(head.method))) for tune, head in pairs}  # said already
    said += [
        f"{compare(best, row, row.versus_best.negated(), row.mcnemar_p)}."  # computed once, in rows_of
        for row in rows[1:]
        if frozenset((id(row.method), id(best.method))) not in covered
    ]
    once = [row.method.label for row in rows if row.runs == 1]
    if once:
        said.append(f"Ran once, so its spread over seeds is unknown: {', '.join(once)}.")
    return said
