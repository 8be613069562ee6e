"""The comparison report (`make report`): is fine-tuning worth it over a head on the cache, and
at what cost? Every method that ran, on the same scored images, with intervals, paired
differences, cost and pictures of the mistakes, as report.md, a self-contained report.html and
report.json (every number, for tools)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cache
from extract.network.feature_source import source_in
from extract.reading.thumbnails import Thumbnails, data_uri
from report import figures, gallery, sections, verdict
from report.collect import Method, collect, differing
from report.config import ReportConfig
from workflow import page
from workflow.page import Figure, Picture
from workflow.paths import Paths


def method_record(row: verdict.Row, class_names: list[str]) -> dict:
    method, entry = row.method, row.method.entry
    versus = row.versus_best
    record = {
        "name": method.name,
        "label": method.label,
        "folder": str(method.out),
        "image_size": method.meta["image_size"],
        "runs": row.runs,
        "class_weight": entry.get("class_weight"),
        "accuracy": vars(row.accuracy),
        "balanced_accuracy": vars(row.scores.interval("balanced_accuracy")),
        "macro_f1": vars(row.scores.interval("macro_f1")),
        "per_class": row.scores.per_class(class_names),
        "run_scores": row.run_scores,
        "spread": float(np.std(row.run_scores)),
        "versus_best": None if versus is None else vars(versus) | {"mcnemar_p": row.mcnemar_p},
        "protocol": entry["protocol"],
        "choices": entry["choices"],
        "trained_on": method.trained_on,
        "cost": {
            "precision": method.precision,
            "extraction_seconds": method.extraction_seconds,
            "train_seconds_per_run": float(np.mean(method.scored.train_seconds)),
            "total_seconds": method.total_seconds,
            "inference_ms_per_image": 1000 * method.scored.inference_seconds_per_image,
        },
        "confusion": figures.voted_confusion(row, len(class_names)).tolist(),
    }
    if row.leakage_free is not None:
        clean = row.leakage_free
        record["leakage_free"] = {"n_images": int(clean.estimate["support"].sum().round())} | {
            name: vars(clean.interval(name)) for name in ("accuracy", "balanced_accuracy", "macro_f1")
        }
    return record


def content_of(methods: list[Method], rows: list[verdict.Row], metric_reason: str, audit: Audit) -> dict:
    """Every number of the report: report.json, and what the Markdown and HTML show."""
    first = methods[0]
    class_names = first.meta["class_names"]
    folders = {str(m.out): m.meta for m in methods}
    best = rows[0]
    return {
        "scored_split": first.scored.split,
        "images": len(first.scored.ids),
        "class_names": class_names,
        "metric": rows[0].metric,
        "metric_reason": metric_reason,
        "trained_on_differs": differing(methods),
        "confusion": "each image's majority vote over a method's runs (a tie: the earliest run's), in images",
        "folders": [
            {
                "folder": out,
                "dataset": meta["dataset"],
                "backbone": source_in(meta).backbone,
                "image_size": meta["image_size"],
                "engine": meta["engine"],
                "rows": {k: v["rows"] for k, v in meta["splits"].items()},
            }
            for out, meta in folders.items()
        ],
        "verdict": [f"Ranked and compared by {metric_reason}. McNemar's test stays on per-image correctness."]
        + verdict.sentences(rows)
        + verdict.class_sentences(rows, class_names)
        + small_classes(methods, class_names)
        + [audit.note],
        "fine_tuning": fine_tuning_of(methods, rows),
        "methods": [method_record(row, class_names) for row in rows],
        "most_wrong": {
            row.method.label: [
                dict(zip(("id", "true", "predicted", "probability"), item, strict=True))
                for item in gallery.most_wrong(row, class_names)
            ]
            for row in rows
        },
        "disagreements": [
            {"id": item, "true": true, "predictions": dict(zip([r.method.label for r in rows], predicted, strict=True))}
            for item, true, predicted in gallery.disagreements(rows, class_names)
        ],
        "top_confusions": {"method": best.method.label, "cells": gallery.top_confusions(best, class_names)},
        "wrong_per_class": {"method": best.method.label, "classes": gallery.wrong_per_class(best, class_names)},
    }


def fine_tuning_of(methods: list[Method], rows: list[verdict.Row]) -> dict | None:
    """The fine-tuning run's recipe, what its search saw, its curve, and the head the verdict
    compares it with: its recorded start (None where that head is not in the report). None
    without a fine-tuning run, or one from before recipes were recorded."""
    tuned = next((m for m in methods if m.name == "finetune" and "recipe" in m.entry), None)
    if tuned is None:
        return None
    keys = ("recipe", "start", "learning_rate", "schedule", "fine_tune_at", "best_epoch", "start_won", "search")
    compared = [head.method.name for tune, head in verdict.tuning_pairs(rows) if tune.method is tuned]
    return {key: tuned.entry[key] for key in keys} | {
        "curve": tuned.entry["curve"],
        "label": tuned.label,
        "compared_with": compared[0] if compared else None,
    }


SMALL_CLASS = 5  # images: fewer in the choice rows or the scored split, and a class's numbers carry little weight


def small_classes(methods: list[Method], class_names: list[str]) -> list[str]:
    """One line naming the classes with fewer than SMALL_CLASS images where they are scored or chosen on."""
    first = methods[0].scored
    places = {
        first.split: dict(zip(class_names, np.bincount(first.labels, minlength=len(class_names)).tolist(), strict=True))
    }
    for method in methods:  # the heads record their choice rows' classes; heads of one folder share them
        choose = method.entry["protocol"]["choose"].split(" ")[0]
        places.setdefault(f"the choice rows ({choose})", method.entry.get("class_counts", {}).get("choose", {}))
    said = []
    for place, counts in places.items():
        few = {name: n for name, n in counts.items() if n < SMALL_CLASS}
        if len(few) == len(class_names) > 1:
            low, high = min(few.values()), max(few.values())
            count = f"{low} image{'s' * (high > 1)}" if low == high else f"{low} to {high} images"
            said.append(f"every class in {place} ({count} each)")
        elif few:
            said.append(f"in {place}, " + ", ".join(f"{name} ({n})" for name, n in few.items()))
    if not said:
        return []
    return [f"Fewer than {SMALL_CLASS} images: {'; '.join(said)}. Their per-class numbers carry little weight."]


@dataclass
class Audit:
    """What the report takes from `make audit` of the same cache."""

    note: str  # the verdict's last sentence
    clean: np.ndarray | None  # the scored images without a near-copy in train; None without an audit that says


def audits_of(methods: list[Method]) -> tuple[list[dict], list[Path]]:
    """The audits of the methods' caches, whichever folder of RUNS holds them: an audit belongs to
    the cache whose fingerprint it records (a folder may hold the same cache as another, e.g. a
    hard link); one per cache, in sorted folder order. And the audits of no such cache (the cache
    changed since), to be named as ignored."""
    fingerprints = {method.meta["fingerprint"] for method in methods}
    found, ignored = {}, []
    for out in sorted({method.out for method in methods}, key=str):
        path = Paths(out).audit_json
        if path.exists():
            summary = json.loads(path.read_text())
            if summary.get("cache_fingerprint") in fingerprints:
                found.setdefault(summary["cache_fingerprint"], summary)
            else:
                ignored.append(path)
    return list(found.values()), ignored


def audit_of(methods: list[Method]) -> Audit:
    """What `make audit` found about the scored split's leakage from train, if it audited a cache of
    the report's methods; with audits of several caches (the same images at several sizes), an
    image with a near-duplicate in train by any of them counts as leaked. An audit of another
    cache (the cache changed since) is ignored, and the note says so."""
    summaries, ignored = audits_of(methods)
    split, ids = methods[0].scored.split, methods[0].scored.ids
    if not summaries and ignored:
        return Audit(f"Ignored {ignored[0]}: it was made on another cache than this one; run `make audit` again.", None)
    if not summaries:
        return Audit(
            f"No audit of this cache: `make audit` finds {split} images that have a near-duplicate in train.", None
        )
    similarity = summaries[0]["settings"]["similarity"]
    tested = "byte copies and the same picture by its pixels" + (
        f", or cosine ≥ {similarity:g} alone" if similarity is not None else ""
    )
    listed = [summary.get("leaked_ids", {}).get(split) for summary in summaries]
    clean = None if None in listed else ~np.isin(np.asarray(ids), [item for some in listed for item in some])
    leaked = max(summary["leaked_from_train"].get(split, 0) for summary in summaries)
    leaked = leaked if clean is None else int((~clean).sum())
    # by reason where one cache was audited: the images of several audits' counts may overlap
    reasons = summaries[0].get("leaked_by_reason", {}).get(split, {}) if len(summaries) == 1 else {}
    by_reason = ", ".join(f"{reason}: {n}" for reason, n in reasons.items() if n)
    labels = sum(summary["counts"]["label"] for summary in summaries)
    pairs = sum(summary["counts"]["duplicate"] for summary in summaries)
    found = f"Audit: {labels} possible label error{'s' * (labels != 1)} and {pairs} near-duplicate "
    found += f"pair{'s' * (pairs != 1)} within splits are listed in audit.html"
    if not leaked:
        return Audit(f"{found}; no {split} image has a near-duplicate in train ({tested}).", clean)
    found += f". {leaked} of the {len(ids)} {split} images have a near-duplicate in train ({by_reason or tested})"
    if clean is not None and not clean.any():
        return Audit(f"{found}: every one of them, so no leakage-free score can be given.", None)
    if verdict.leakage_judged(clean):
        share = f"{100 * (1 - clean.mean()):.1f}%"
        return Audit(
            f"{found}: {share} of them, over {100 * verdict.LEAKAGE_SHARE:g}%, so the verdict above is judged on "
            f"the {int(clean.sum())} without one (leakage-free); the table also gives the scores on every image.",
            clean,
        )
    if clean is None:
        return Audit(f"{found}: every accuracy above may be inflated by them.", clean)
    return Audit(f"{found}: at most {100 * verdict.LEAKAGE_SHARE:g}%, so the verdict uses every image.", clean)


def shown_ids(content: dict) -> set[str]:
    """Every image a page pictures."""
    shown = {item["id"] for items in content["most_wrong"].values() for item in items}
    shown |= {item["id"] for item in content["disagreements"]}
    shown |= {item for cell in content["top_confusions"]["cells"] for item in cell["ids"]}
    return shown | {item["id"] for items in content["wrong_per_class"]["classes"].values() for item in items}


def write_report(config: ReportConfig, progress: bool = False) -> Path:
    """Write report.md, report.html, report.json and the figures into the output folder; report.md's path."""
    paths = config.paths
    methods = collect([Path(out) for out in (config.runs or [config.out])], config.backbone)
    class_names = methods[0].meta["class_names"]
    if config.metric != "auto":
        metric, reason = config.metric, f"{verdict.METRICS[config.metric]}, as METRIC sets"
    else:
        metric, reason = verdict.default_metric(methods[0].scored.labels, class_names)
    audit = audit_of(methods)
    rows = verdict.rows_of(methods, metric, audit.clean)
    content = content_of(methods, rows, reason, audit)
    figures.metric_against_cost(rows, paths.report_figure)
    figures.confusion_matrices(rows, class_names, paths.report_confusion)
    drawn = {"metric": (paths.report_figure, f"{verdict.METRICS[metric]} against cost")}
    drawn["confusion"] = (paths.report_confusion, "confusion matrices")
    if content["fine_tuning"]:
        figures.fine_tuning_curves(content["fine_tuning"], paths.report_fine_tuning)
        drawn["fine_tuning"] = (paths.report_fine_tuning, "fine-tuning's search and learning curve")
    pictures = {  # beside report.md, which sits in the output folder
        name: Figure(alt, path.relative_to(paths.out).as_posix(), data_uri(path.read_bytes(), "png"))
        for name, (path, alt) in drawn.items()
    }

    shown = sorted(shown_ids(content))
    thumbnails = Thumbnails(methods[0].meta, methods[0].out)
    paths.report_thumbnails.mkdir(parents=True, exist_ok=True)
    relative = paths.report_thumbnails.relative_to(paths.out).as_posix()
    thumbnail = {}
    for index, item in enumerate(shown):
        jpeg = thumbnails.jpeg(item)
        (paths.report_thumbnails / f"{index:04d}.jpg").write_bytes(jpeg)
        thumbnail[item] = Picture(item, f"{relative}/{index:04d}.jpg", data_uri(jpeg))

    rendered = page.render(sections.page_of(content, pictures, thumbnail.__getitem__), "report", "report")
    cache.write_text(paths.report, rendered["md"])
    cache.write_text(paths.report_html, rendered["html"])
    cache.write_text(paths.report_json, json.dumps(content, indent=2))
    return paths.report
