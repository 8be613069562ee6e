"""`python -m finetune.report`: one table and one figure comparing every method that ran (`make report`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cache
from classify import plots  # noqa: F401  (selects the Agg backend before pyplot loads)

import matplotlib.pyplot as plt  # noqa: E402

SOURCES = {  # metrics file -> its methods, in the table's order
    "heads/metrics.json": ("logreg", "dense"),
    "finetune/metrics.json": ("finetune",),
    "baseline/metrics.json": ("tutorial",),
}
LABELS = {
    "logreg": "logistic regression on cache",
    "dense": "Dense head on cache",
    "finetune": "fine-tuned end to end",
    "tutorial": "tutorial recipe (frozen base in fit)",
}
CURVES = ("heads/dense_learning_curve.png", "finetune/learning_curve.png")


def collect(out: Path, meta: dict) -> tuple[dict, float]:
    """{method: metrics entry} for every method whose metrics match the cache (`meta`); extraction seconds."""
    methods = {}
    for relative, names in SOURCES.items():
        path = out / relative
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


def write_report(out: str | Path) -> Path:
    out = Path(out)
    meta = cache.info(cache.path_in(out))
    methods, extraction = collect(out, meta)
    if not methods:
        raise cache.CacheError(f"no metrics for the cache in {out}: run `make heads` (and `make finetune`) first")
    figure(methods, extraction, out / "report.png")
    curves = [f"![{c}]({c})" for c in CURVES if (out / c).exists()]
    text = "\n\n".join([
        "# Transfer learning report",
        f"Data `{meta['dataset']}` at {meta['image_size']} px, engine `{meta['engine']}`, classes "
        f"{', '.join(meta['class_names'])}; rows per split: "
        + ", ".join(f"{k} {v['rows']}" for k, v in meta["splits"].items()) + ".",
        markdown(methods, extraction),
        "The cached heads pay the extraction once; re-running them costs only their training seconds.",
        "![comparison](report.png)",
        *curves,
    ]) + "\n"
    cache.write_text(out / "report.md", text)
    return out / "report.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.report", description="Write <out>/report.md and "
                                     "<out>/report.png comparing every method whose metrics match the cache.")
    parser.add_argument("--out", default="artifacts", help="the artifacts folder")
    args = parser.parse_args(argv)
    try:
        path = write_report(args.out)
    except cache.CacheError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
