"""The numbers and the sentences of the verdict: each method's scores with their intervals, its
spread over runs, its paired difference from the best method on the chosen metric, and what it
cost.

No winner is named where the paired interval holds zero: those methods are "within noise"; and
one is named the better only where McNemar's test on per-image correctness agrees (p < ALPHA).
Where two methods differ on one class's recall beyond noise, a sentence says so, whatever the
overall verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classify.metrics import Interval, Scores, columns, scores_of, statistics
from report import stats
from report.collect import USES_CACHE, Method
from report.config import METRICS

ALPHA = 0.05  # McNemar's level for naming a winner
IMBALANCE = 1.5  # above this ratio of the scored split's largest class to its smallest, accuracy is not the default
LEAKAGE_SHARE = 0.05  # above this share of scored images with a near-copy in train, the verdict uses the rest


@dataclass
class Row:
    method: Method
    metric: str  # what the verdict ranks and compares by: a key of METRICS
    scores: Scores  # on every scored image
    leakage_free: Scores | None  # on the scored images without a near-copy in train, where an audit says which
    judged: Scores  # what the verdict compares: leakage_free where leakage is over LEAKAGE_SHARE, else scores
    correct: np.ndarray  # (runs, judged images): McNemar's per-image correctness
    run_scores: list[float]  # each run's value of the metric on every scored image
    versus_best: Interval | None  # this minus the best on the metric, paired; None for the best itself
    mcnemar_p: float | None

    @property
    def runs(self) -> int:
        return len(self.run_scores)

    @property
    def accuracy(self) -> Interval:
        return self.scores.interval("accuracy")


def default_metric(labels: np.ndarray, class_names: list[str]) -> tuple[str, str]:
    """(metric, why): accuracy where the classes present in the scored split are within IMBALANCE×
    of each other, else balanced accuracy, which weighs every class alike. A class absent from the
    split has no recall to weigh: it is named, not counted as a class of size 0."""
    counts = np.bincount(labels, minlength=len(class_names))
    present = np.flatnonzero(counts)
    large, small = present[counts[present].argmax()], present[counts[present].argmin()]
    if counts[large] == counts[small]:
        sizes = f"its {len(present)} classes have {counts[large]} images each"
    else:
        sizes = (
            f"its largest class, {class_names[large]}, has {counts[large]} images and its smallest, "
            f"{class_names[small]}, {counts[small]}"
        )
    absent = [class_names[k] for k in np.flatnonzero(counts == 0)]
    if absent:
        sizes += f"; {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} absent from it, so not counted"
    if counts[large] <= IMBALANCE * counts[small]:
        return "accuracy", f"accuracy, as the scored split's classes are within {IMBALANCE:g}× of each other ({sizes})"
    return "balanced_accuracy", (
        f"balanced accuracy (the mean of the per-class recalls), as the scored split's classes are not within "
        f"{IMBALANCE:g}× of each other ({sizes}): accuracy would mostly measure the large classes"
    )


def rows_of(methods: list[Method], metric: str = "accuracy", clean: np.ndarray | None = None) -> list[Row]:
    """One row per method, the best on `metric` first, then the table's order. `clean` marks the
    scored images without a near-copy in train (None: no audit); where more than LEAKAGE_SHARE
    have one, the verdict is judged on the clean images alone."""
    labels = methods[0].scored.labels
    n_classes = methods[0].scored.probabilities.shape[-1]
    every = scores_of([m.scored.probabilities for m in methods], labels, n_classes)
    kept = [None] * len(methods)
    if clean is not None and clean.any():
        kept = scores_of([m.scored.probabilities[:, clean] for m in methods], labels[clean], n_classes)
    on_clean = leakage_judged(clean)
    images = clean if on_clean else np.ones(len(labels), dtype=bool)
    judged = kept if on_clean else every
    correct = [stats.correctness(m.scored.probabilities[:, images], labels[images]) for m in methods]
    best = max(range(len(methods)), key=lambda i: judged[i].estimate[metric])
    rows = []
    for i in [best] + [i for i in range(len(methods)) if i != best]:
        is_best = i == best
        rows.append(
            Row(
                methods[i],
                metric,
                every[i],
                kept[i],
                judged[i],
                correct[i],
                run_scores(methods[i].scored.probabilities, labels, n_classes, metric),
                None if is_best else judged[i].difference(judged[best], metric),
                None if is_best else stats.mcnemar_p(correct[i], correct[best]),
            )
        )
    return rows


def run_scores(probabilities: np.ndarray, labels: np.ndarray, n_classes: int, metric: str) -> list[float]:
    """Each run's value of `metric` on every scored image: the spread over seeds, on the verdict's metric."""
    return [float(statistics(columns(run, labels, n_classes).sum(axis=0), n_classes)[metric]) for run in probabilities]


def leakage_judged(clean: np.ndarray | None) -> bool:
    """Whether the verdict is judged on the leakage-free images: more than LEAKAGE_SHARE of the
    scored images have a near-copy in train, and some have none."""
    return clean is not None and clean.any() and 1 - clean.mean() > LEAKAGE_SHARE


def points(value: float) -> str:
    return f"{100 * value:+.1f}"


def compare(a: Row, b: Row, delta: Interval, p: float) -> str:
    """One sentence on two methods, on the same images, given the paired difference a − b on the
    metric and McNemar's p. A winner is named only where both tests agree: the interval excludes
    zero and p is under ALPHA. Where only the interval does, the sentence says the edge is uncertain."""
    ahead, behind = (a, b) if delta.estimate >= 0 else (b, a)
    sign = 1 if ahead is a else -1
    low, high = sorted((sign * delta.low, sign * delta.high))
    of = "" if a.metric == "accuracy" else f" of {METRICS[a.metric]}"
    numbers = (
        f"Δ = {points(sign * delta.estimate)} points{of} for {ahead.method.label}, 95% CI "
        f"[{points(low)}, {points(high)}], McNemar p = {p:.2g}"
    )
    if delta.holds(0.0):
        return f"{a.method.label} and {b.method.label} are within noise ({numbers})"
    if p < ALPHA:
        better = "more accurate than" if a.metric == "accuracy" else f"better on {METRICS[a.metric]} than"
        return f"{ahead.method.label} is {better} {behind.method.label} ({numbers})"
    return (
        f"{ahead.method.label} is ahead of {behind.method.label}, but McNemar's test does not confirm it: "
        f"the interval just excludes zero, the test on the images they disagree on does not (p ≥ {ALPHA:g}), "
        f"a small, uncertain edge ({numbers})"
    )


def cost_ratio(a: Method, b: Method) -> str:
    """How many times a's training time b's is, in words."""
    ratio = float(np.mean(a.scored.train_seconds)) / max(float(np.mean(b.scored.train_seconds)), 1e-9)
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def tuning_pairs(rows: list[Row]) -> list[tuple[Row, Row]]:
    """(fine-tuning, the cached head it started from) for each fine-tuned method: the start its
    metrics.json records, whichever recipe chose it, so that the verdict measures what fine-tuning
    added to that head (a head added later, or the best on the scored split, it never saw). A
    fine-tuning without a recorded start, or whose start is not in the report, has no pair."""
    pairs = []
    for tune in (r for r in rows if r.method.name == "finetune"):
        start = [r for r in rows if r.method.out == tune.method.out and r.method.name == tune.method.entry.get("start")]
        pairs += [(tune, start[0])] if start else []
    return pairs


def rows_apart(a: Row, b: Row) -> str:
    """A clause saying that two methods were fitted on different train rows (EXCLUDE), or nothing."""
    if a.method.trained_on.get("excluded") == b.method.trained_on.get("excluded"):
        return ""

    def left_out(row: Row) -> str:
        count = row.method.excluded_rows
        return "not recorded" if count is None else f"{count} excluded"

    unknown = a.method.excluded_rows is None or b.method.excluded_rows is None
    return (
        f"; they {'may' if unknown else 'were'} not {'have been ' if unknown else ''}trained on the same rows "
        f"(train images: {a.method.label} {left_out(a)}, "
        f"{b.method.label} {left_out(b)}), so the difference {'may be' if unknown else 'is'} partly one of data"
    )


def compared_pairs(rows: list[Row]) -> list[tuple[Row, Row]]:
    """Every pair the verdict speaks of: fine-tuning against its start head, then the best method
    against each other one not said already."""
    pairs = tuning_pairs(rows)
    covered = {frozenset((id(a.method), id(b.method))) for a, b in pairs}
    best = rows[0]
    return pairs + [(best, row) for row in rows[1:] if frozenset((id(row.method), id(best.method))) not in covered]


def sentences(rows: list[Row]) -> list[str]:
    """The verdict: is fine-tuning worth it over the head it started from, and at what cost;
    then every other method against the best; then any method that ran once."""
    said = []
    for a, b in compared_pairs(rows):
        delta = a.judged.difference(b.judged, a.metric)
        sentence = compare(a, b, delta, stats.mcnemar_p(a.correct, b.correct)) + rows_apart(a, b)
        if a.method.name == "finetune" and b.method.name in USES_CACHE:
            sentence += f"; fine-tuning cost {cost_ratio(a.method, b.method)} the training time of {b.method.label}"
        said.append(sentence + ".")
    once = [row.method.label for row in rows if row.runs == 1]
    if once:
        said.append(f"Ran once, so its spread over seeds is unknown: {', '.join(once)}.")
    return said


def class_sentences(rows: list[Row], class_names: list[str]) -> list[str]:
    """For every pair the verdict compares, the classes whose recall differs beyond noise (the paired
    interval excludes zero), even where the overall verdict is "within noise": one sentence for
    each method of the pair that finds more of some class, naming each such class."""
    said = []
    for a, b in compared_pairs(rows):
        found = {id(a): [], id(b): []}
        for k, name in enumerate(class_names):
            delta = a.judged.difference(b.judged, "recall", k)
            if not np.isfinite(delta.low) or delta.holds(0.0):
                continue
            ahead, behind = (a, b) if delta.estimate > 0 else (b, a)
            sign = 1 if ahead is a else -1
            low, high = sorted((sign * delta.low, sign * delta.high))
            recalls = [100 * row.judged.estimate["recall"][k] for row in (ahead, behind)]
            found[id(ahead)].append(
                f"{name} (recall {recalls[0]:.1f}% against {recalls[1]:.1f}%, Δ = {points(sign * delta.estimate)} "
                f"points, 95% CI [{points(low)}, {points(high)}])"
            )
        for ahead, behind in ((a, b), (b, a)):
            if found[id(ahead)]:
                classes = "; ".join(found[id(ahead)])
                said.append(f"Per class, against {behind.method.label}, {ahead.method.label} recalls more {classes}.")
    return said
