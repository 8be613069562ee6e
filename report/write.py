"""The comparison report (`make report`): is fine-tuning worth it over a head on the cache, and
at what cost? Every method that ran, on the same scored images, with intervals, paired
differences, cost and pictures of the mistakes, as report.md, a self-contained report.html and
report.json (every number, for tools)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cache
from extract.network.feature_source import source_in
from extract.reading.thumbnails import Thumbnails, data_uri
from report import figures, gallery, verdict
from report.collect import Method, collect, differing
from report.config import ReportConfig
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


def fine_tuning_lines(section: dict) -> list[str]:
    """What the report says of fine-tuning's recipe, one sentence a line."""
    lines = [
        f"Recipe: {section['recipe']}; started from the cached {section['start']} head; peak rate "
        f"{section['learning_rate']:g}, {section['schedule']}; layers {section['fine_tune_at']} and up trained."
    ]
    search = section["search"]
    if search:
        tried = "; ".join(
            f"rate {c['learning_rate']:g}, layers {c['fine_tune_at']}+: {c['choice_loss'][-1]:.4f}"
            for c in search["candidates"]
        )
        start, steps = search["candidates"][0]["choice_loss"][0], search["candidates"][0]["steps"][-1]
        lines.append(
            f"The search ({search['seconds']:.0f} s, counted in the training seconds above) saw these losses on "
            f"the choice rows after {steps} steps each, from {start:.4f} at the start: {tried}."
        )
    if section["start_won"]:
        lines.append("The best epoch was epoch 0, the start itself: fine-tuning did not help here.")
    else:
        lines.append(f"The best epoch was {section['best_epoch']}: fine-tuning improved on its start.")
    return lines


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


def percent(interval: dict) -> str:
    return f"{100 * interval['estimate']:.2f}% [{100 * interval['low']:.2f}, {100 * interval['high']:.2f}]"


def short(interval: dict) -> str:
    """A per-class interval, compactly (a class missing from some resamples may have none)."""
    if interval["estimate"] != interval["estimate"]:  # NaN: no images of the class
        return "–"
    return f"{100 * interval['estimate']:.1f} [{100 * interval['low']:.1f}, {100 * interval['high']:.1f}]"


def table(content: dict) -> tuple[list[str], list[list[str]]]:
    """The methods table, as a header and rows of cells (Markdown and HTML render it alike)."""
    metric = verdict.METRICS[content["metric"]]
    leakage = any("leakage_free" in m for m in content["methods"])
    header = [
        "method",
        f"accuracy on {content['scored_split']}, 95% CI",
        "balanced accuracy, 95% CI",
        "macro-F1, 95% CI",
        *(["leakage-free images: accuracy, balanced accuracy"] if leakage else []),
        f"runs: mean ± sd of {metric} (min–max)",
        f"Δ {metric} vs best, 95% CI",
        "McNemar p",
        "extraction s (one-off), precision",
        "training s per run",
        "inference ms/image",
    ]
    rows = []
    for m in content["methods"]:
        runs = m["run_scores"]
        spread = (
            (
                f"{len(runs)}: {100 * np.mean(runs):.2f} ± {100 * m['spread']:.2f} "
                f"({100 * min(runs):.2f}–{100 * max(runs):.2f})"
            )
            if len(runs) > 1
            else "1 (ran once)"
        )
        versus = m["versus_best"]
        delta = (
            "best"
            if versus is None
            else (f"{100 * versus['estimate']:+.2f} [{100 * versus['low']:+.2f}, {100 * versus['high']:+.2f}]")
        )
        clean = m.get("leakage_free")
        cost = m["cost"]
        rows.append(
            [
                m["label"],
                percent(m["accuracy"]),
                percent(m["balanced_accuracy"]),
                percent(m["macro_f1"]),
                *(
                    [
                        f"{clean['n_images']}: {percent(clean['accuracy'])}, {percent(clean['balanced_accuracy'])}"
                        if clean
                        else "–"
                    ]
                    if leakage
                    else []
                ),
                spread,
                delta,
                "–" if versus is None else f"{versus['mcnemar_p']:.2g}",
                f"{cost['extraction_seconds']:.1f}, {cost['precision']}" if cost["extraction_seconds"] else "–",
                f"{cost['train_seconds_per_run']:.1f}",
                f"{cost['inference_ms_per_image']:.2f}",
            ]
        )
    return header, rows


def class_table(method: dict) -> tuple[list[str], list[list[str]]]:
    """One method's per-class numbers: images, then precision, recall and F1 in % with 95% CIs."""
    header = ["class", "images", "precision, 95% CI", "recall, 95% CI", "F1, 95% CI"]
    rows = [
        [name, str(numbers["support"])] + [short(numbers[key]) for key in ("precision", "recall", "f1")]
        for name, numbers in method["per_class"].items()
    ]
    return header, rows


def confusion_lines(content: dict) -> list[str]:
    return [
        f"{cell['true']} → {cell['predicted']}: {cell['count']} of {cell['of']}"
        for cell in content["top_confusions"]["cells"]
    ]


def protocol_lines(content: dict) -> list[str]:
    """Each method's rows, and what its training saw wherever that differs between the methods."""
    return [
        f"{m['label']}: fit on {m['protocol']['fit']}"
        + "".join(f", {seen_words(key, m['trained_on'].get(key))}" for key in content["trained_on_differs"])
        + f"; {m['choices']}; scored on {m['protocol']['score']}"
        + (f"; dev and fit never split {n} groups of near-copies" if (n := m["protocol"].get("groups")) else "")
        + "."
        for m in content["methods"]
    ]


def seen_words(key: str, value) -> str:
    """One item of `classify.seen.trained_on`, in words."""
    if value is None:
        return f"{key.replace('_', ' ')} not recorded"
    if key == "excluded":
        count = value["train_rows"]
        return (
            f"{count} train images excluded (ids sha256 {value['ids_sha256'][:12]})"
            if count
            else "no train image excluded"
        )
    if key == "backbone_weights":
        return f"backbone weights sha256 {value[:12]}"
    if key == "feature_blocks":  # many: counted (the choices name the set)
        return f"feature blocks {', '.join(value)}" if len(value) < 4 else f"{len(value)} feature blocks"
    if key == "views":
        return f"{value} view{'s' * (value != 1)} of each image" if isinstance(value, int) else value
    return f"{key.replace('_', ' ')} {value}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(content: dict, figure: Path, confusion: Path, thumbnail_path, fine_tuning: Path | None = None) -> str:
    lines = [
        "# Transfer learning report",
        "",
        f"Scored on {content['images']} {content['scored_split']} images; classes {', '.join(content['class_names'])}.",
        "",
    ]
    lines += [
        f"- `{f['folder']}`: `{f['dataset']}` on {f['backbone']} at {f['image_size']} px, engine `{f['engine']}`, rows "
        + ", ".join(f"{k} {v}" for k, v in f["rows"].items())
        for f in content["folders"]
    ]
    lines += ["", "## Verdict", ""] + [f"- {sentence}" for sentence in content["verdict"]]
    lines += ["", "## Methods", ""] + _markdown_table(*table(content))
    lines += ["", "Which rows each choice saw:", ""] + [f"- {line}" for line in protocol_lines(content)]
    lines += ["", "## Per class", "", "Precision, recall and F1 in %, with 95% bootstrap intervals over images.", ""]
    for method in content["methods"]:
        lines += [f"### {method['label']}", ""] + _markdown_table(*class_table(method)) + [""]
    lines += [f"![{verdict.METRICS[content['metric']]} against cost]({figure.name})", ""]
    lines += [
        f"Confusion matrices: {content['confusion']}; and as recall.",
        "",
        f"![confusion matrices]({confusion.name})",
    ]
    lines.append("")
    if content["fine_tuning"]:
        lines += ["## Fine-tuning's recipe", ""] + [f"- {line}" for line in fine_tuning_lines(content["fine_tuning"])]
        lines += ["", f"![fine-tuning's search and learning curve]({fine_tuning.name})", ""]

    def tile(item: str, caption: str = "") -> str:
        """One image of a gallery: its thumbnail, its id, and what is said of it."""
        return f"![{item}]({thumbnail_path(item)}) `{item}`" + (f": {caption}" if caption else "") + "  "

    confusions = content["top_confusions"]
    lines += ["", f"## Top confusions of {confusions['method']}", ""]
    for line, cell in zip(confusion_lines(content), confusions["cells"], strict=True):
        lines += [f"### {line}", ""] + [tile(item) for item in cell["ids"]] + [""]
    if not confusions["cells"]:
        lines += ["(no mistakes)", ""]
    wrong = content["wrong_per_class"]
    lines += [f"## Most confidently wrong, per class ({wrong['method']})", ""]
    for name, items in wrong["classes"].items():
        lines += [f"### {name}", ""]
        lines += [tile(item["id"], f"predicted {item['predicted']} ({item['probability']:.3f})") for item in items] or [
            "(none wrong)"
        ]
        lines.append("")
    lines += ["## Most wrong, per method", ""]
    for label, items in content["most_wrong"].items():
        lines += [f"### {label}", ""]
        lines += [
            tile(item["id"], f"{item['true']}, predicted {item['predicted']} ({item['probability']:.3f})")
            for item in items
        ] or ["(no mistakes)"]
        lines.append("")
    lines += ["## Where the methods disagree", ""]
    lines += [
        tile(item["id"], f"{item['true']}; " + ", ".join(f"{k}: {v}" for k, v in item["predictions"].items()))
        for item in content["disagreements"]
    ] or ["(they agree on every image)"]
    return "\n".join(lines) + "\n"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.verdict li{margin:.4em 0}
.grid{display:flex;flex-wrap:wrap;gap:12px}.tile{width:150px;font-size:12px;overflow-wrap:anywhere}
.tile img{max-width:140px;display:block}.tile code{word-break:break-all}
.wrong{color:#b00}.figure{overflow-x:auto}.figure img{max-width:none}"""


def _tile(item: str, jpeg: bytes, caption: str) -> str:
    return (
        f'<div class="tile"><img src="{data_uri(jpeg)}" alt="{html.escape(item)}">'
        f"<code>{html.escape(item)}</code><br>{caption}</div>"
    )


def _html_table(header: list[str], rows: list[list[str]]) -> list[str]:
    e = html.escape
    return (
        ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
        + ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows]
        + ["</table>"]
    )


def html_page(
    content: dict, figure: bytes, confusion: bytes, jpegs: dict[str, bytes], fine_tuning: bytes | None = None
) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Transfer learning report</title>"
        f"<style>{STYLE}</style></head><body><h1>Transfer learning report</h1>",
        f"<p>Scored on {content['images']} {e(content['scored_split'])} images; classes "
        f"{e(', '.join(content['class_names']))}.</p><ul>",
    ]
    parts += [
        f"<li><code>{e(f['folder'])}</code>: <code>{e(f['dataset'])}</code> on {e(f['backbone'])} at "
        f"{f['image_size']} px, engine {e(f['engine'])}</li>"
        for f in content["folders"]
    ]
    parts += ["</ul><h2>Verdict</h2><ul class='verdict'>"] + [f"<li>{e(s)}</li>" for s in content["verdict"]]
    parts += ["</ul><h2>Methods</h2>"] + _html_table(*table(content))
    parts += ["<p>Which rows each choice saw:</p><ul>"] + [f"<li>{e(line)}</li>" for line in protocol_lines(content)]
    parts += ["</ul><h2>Per class</h2><p>Precision, recall and F1 in %, with 95% bootstrap intervals over images.</p>"]
    for index, method in enumerate(content["methods"]):  # the best open, the others a click away
        parts += [f"<details{' open' if index == 0 else ''}><summary><b>{e(method['label'])}</b></summary>"]
        parts += _html_table(*class_table(method)) + ["</details>"]
    parts += [
        f"<p><img alt='{verdict.METRICS[content['metric']]} against cost' src='{data_uri(figure, 'png')}'></p>",
        f"<p>Confusion matrices: {e(content['confusion'])}; and as recall.</p>",
        f"<div class='figure'><img alt='confusion matrices' src='{data_uri(confusion, 'png')}'></div>",
    ]
    if content["fine_tuning"]:
        parts += ["<h2>Fine-tuning's recipe</h2><ul>"] + [
            f"<li>{e(x)}</li>" for x in fine_tuning_lines(content["fine_tuning"])
        ]
        parts += [f"</ul><img alt='fine-tuning search and curve' src='{data_uri(fine_tuning, 'png')}'>"]
    confusions = content["top_confusions"]
    parts += [f"<h2>Top confusions of {e(confusions['method'])}</h2>"]
    for line, cell in zip(confusion_lines(content), confusions["cells"], strict=True):
        parts += [f"<h3>{e(line)}</h3><div class='grid'>"]
        parts += [_tile(item, jpegs[item], "") for item in cell["ids"]] + ["</div>"]
    if not confusions["cells"]:
        parts += ["<p>(no mistakes)</p>"]
    wrong = content["wrong_per_class"]
    parts += [f"<h2>Most confidently wrong, per class ({e(wrong['method'])})</h2>"]
    for name, items in wrong["classes"].items():
        parts += [f"<h3>{e(name)}</h3><div class='grid'>"]
        parts += [
            _tile(
                item["id"],
                jpegs[item["id"]],
                f"<span class='wrong'>predicted {e(item['predicted'])} ({item['probability']:.3f})</span>",
            )
            for item in items
        ]
        parts += ["</div>" if items else "<p>(none wrong)</p></div>"]
    parts += ["<h2>Most wrong, per method</h2>"]
    for label, items in content["most_wrong"].items():
        parts += [f"<h3>{e(label)}</h3><div class='grid'>"]
        parts += [
            _tile(
                item["id"],
                jpegs[item["id"]],
                f"true {e(item['true'])}, <span class='wrong'>predicted "
                f"{e(item['predicted'])} ({item['probability']:.3f})</span>",
            )
            for item in items
        ]
        parts += ["</div>" if items else "<p>(no mistakes)</p></div>"]
    parts += ["<h2>Where the methods disagree</h2><div class='grid'>"]
    parts += [
        _tile(
            item["id"],
            jpegs[item["id"]],
            f"true {e(item['true'])}<br>"
            + "<br>".join(
                f"{e(k)}: " + (e(v) if v == item["true"] else f"<span class='wrong'>{e(v)}</span>")
                for k, v in item["predictions"].items()
            ),
        )
        for item in content["disagreements"]
    ]
    parts += ["</div></body></html>"]
    return "\n".join(parts)


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
    if content["fine_tuning"]:
        figures.fine_tuning_curves(content["fine_tuning"], paths.report_fine_tuning)

    shown = shown_ids(content)
    thumbnails = Thumbnails(methods[0].meta, methods[0].out)
    jpegs = {item: thumbnails.jpeg(item) for item in sorted(shown)}
    names = {item: f"{index:04d}.jpg" for index, item in enumerate(sorted(shown))}
    paths.report_thumbnails.mkdir(parents=True, exist_ok=True)
    for item, jpeg in jpegs.items():
        (paths.report_thumbnails / names[item]).write_bytes(jpeg)

    relative = paths.report_thumbnails.relative_to(paths.out).as_posix()
    cache.write_text(
        paths.report,
        markdown(
            content,
            paths.report_figure,
            paths.report_confusion,
            lambda item: f"{relative}/{names[item]}",
            paths.report_fine_tuning,
        ),
    )
    cache.write_text(
        paths.report_html,
        html_page(
            content,
            paths.report_figure.read_bytes(),
            paths.report_confusion.read_bytes(),
            jpegs,
            paths.report_fine_tuning.read_bytes() if content["fine_tuning"] else None,
        ),
    )
    cache.write_text(paths.report_json, json.dumps(content, indent=2))
    return paths.report
