"""The comparison report (`make report`): one table and one figure of every method that ran."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt  # noqa: E402

import cache
from classify import plots  # noqa: F401  (selects the Agg backend before pyplot loads)
from report.config import ReportConfig
from workflow.paths import Paths


def sources(paths: Paths) -> dict[Path, tuple[str, ...]]:
    """Each metrics file and its methods, in the table's order."""
    return {
        paths.heads_metrics: ("logreg", "dense"),
        paths.finetune_metrics: ("finetune",),
        paths.baseline_metrics: ("tutorial",),
    }


LABELS = {
    "logreg": "logistic regression on cache",
    "dense": "Dense head on cache",
    "finetune": "fine-tuned end to end",
    "tutorial": "tutorial recipe (frozen base in fit)",
}


def collect(paths: Paths, meta: dict) -> tuple[dict, float]:
    """{method: metrics entry} for every method whose metrics match the cache (`meta`); extraction seconds."""
    methods = {}
    for path, names in sources(paths).items():
        if not path.exists():
            continue
        entries = json.loads(path.read_text())
        for name in names:
            if name in entries and entries[name].get("cache_fingerprint") == meta["fingerprint"]:
                methods[name] = entries[name]
    extraction = sum(split["seconds"] for split in meta["splits"].values())
    return methods, extraction


def _cell(entry: dict, split: str, key: str) -> str:
    value = entry.get(split, {}).get(key)
    return "–" if value is None else f"{value:.4f}"


def markdown(methods: dict, extraction: float) -> str:
    lines = [
        "| method | val accuracy | test accuracy | val log loss | test log loss | val AUC | test AUC "
        "| training s | one-off extraction s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in methods.items():
        uses_cache = name in ("logreg", "dense")
        lines.append(
            f"| {LABELS[name]} | {_cell(entry, 'validation', 'accuracy')} | {_cell(entry, 'test', 'accuracy')} "
            f"| {_cell(entry, 'validation', 'loss')} | {_cell(entry, 'test', 'loss')} "
            f"| {_cell(entry, 'validation', 'auc')} | {_cell(entry, 'test', 'auc')} "
            f"| {entry['train_seconds']:.1f} | {f'{extraction:.1f}' if uses_cache else '–'} |"
        )
    return "\n".join(lines)


def figure(methods: dict, extraction: float, path: Path) -> None:
    names = list(methods)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    accuracy = [methods[n].get("validation", {}).get("accuracy", 0) for n in names]
    left.barh([LABELS[n] for n in names], accuracy, color="tab:blue")
    left.set_xlim(min(accuracy + [0.9]) - 0.02, 1.0)
    left.set_xlabel("validation accuracy")
    for y, value in enumerate(accuracy):
        left.annotate(f"{value:.3f}", (value, y), va="center", ha="left")
    train = [methods[n]["train_seconds"] for n in names]
    extract = [extraction if n in ("logreg", "dense") else 0 for n in names]
    right.barh([LABELS[n] for n in names], extract, color="tab:grey", label="one-off extraction")
    right.barh([LABELS[n] for n in names], train, left=extract, color="tab:orange", label="training")
    right.set_xscale("log")
    right.set_xlabel("wall seconds (log scale)")
    right.legend(loc="lower right")
    right.set_yticklabels([])
    fig.tight_layout()
    with cache.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_report(config: ReportConfig, progress: bool = False) -> Path:
    """Write report.md and report.png into the output folder; the report's path."""
    paths = config.paths
    meta = cache.info(paths.cache)
    methods, extraction = collect(paths, meta)
    if not methods:
        raise cache.CacheError(f"no metrics for the cache in {paths.out}: run `make heads` (and `make finetune`) first")
    figure(methods, extraction, paths.report_figure)
    links = [paths.report_figure] + [c for c in (paths.dense_curve, paths.finetune_curve) if c.exists()]
    text = (
        "\n\n".join(
            [
                "# Transfer learning report",
                f"Data `{meta['dataset']}` at {meta['image_size']} px, engine `{meta['engine']}`, classes "
                f"{', '.join(meta['class_names'])}; rows per split: "
                + ", ".join(f"{k} {v['rows']}" for k, v in meta["splits"].items())
                + ".",
                markdown(methods, extraction),
                "The cached heads pay the extraction once; re-running them costs only their training seconds.",
                *[f"![{link.stem}]({link.relative_to(paths.out).as_posix()})" for link in links],
            ]
        )
        + "\n"
    )
    cache.write_text(paths.report, text)
    return paths.report
