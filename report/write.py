"""The comparison report (`make report`): is fine-tuning worth it over a head on the cache, and
at what cost? Every method that ran, on the same scored images, with intervals, paired
differences, cost and pictures of the mistakes, as report.md, a self-contained report.html and
report.json (every number, for tools)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

import cache
from extract.thumbnails import Thumbnails, data_uri
from report import figures, gallery, verdict
from report.collect import Method, collect
from report.config import ReportConfig
from workflow.paths import Paths


def method_record(row: verdict.Row, n_classes: int) -> dict:
    method, entry = row.method, row.method.entry
    versus = row.versus_best
    return {
        "name": method.name,
        "label": method.label,
        "folder": str(method.out),
        "image_size": method.meta["image_size"],
        "runs": row.runs,
        "accuracy": vars(row.accuracy),
        "run_accuracies": row.run_accuracies,
        "spread": float(np.std(row.run_accuracies)),
        "versus_best": None if versus is None else vars(versus) | {"mcnemar_p": row.mcnemar_p},
        "protocol": entry["protocol"],
        "choices": entry["choices"],
        "cost": {
            "precision": method.precision,
            "extraction_seconds": method.extraction_seconds,
            "train_seconds_per_run": float(np.mean(method.scored.train_seconds)),
            "total_seconds": method.total_seconds,
            "inference_ms_per_image": 1000 * method.scored.inference_seconds_per_image,
        },
        "confusion": figures.mean_confusion(row, n_classes).tolist(),
    }


def content_of(methods: list[Method], rows: list[verdict.Row]) -> dict:
    """Every number of the report: report.json, and what the Markdown and HTML show."""
    first = methods[0]
    class_names = first.meta["class_names"]
    folders = {str(m.out): m.meta for m in methods}
    return {
        "scored_split": first.scored.split,
        "images": len(first.scored.ids),
        "class_names": class_names,
        "folders": [
            {
                "folder": out,
                "dataset": meta["dataset"],
                "image_size": meta["image_size"],
                "engine": meta["engine"],
                "rows": {k: v["rows"] for k, v in meta["splits"].items()},
            }
            for out, meta in folders.items()
        ],
        "verdict": verdict.sentences(rows) + [audit_sentence(first)],
        "methods": [method_record(row, len(class_names)) for row in rows],
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
    }


def audit_sentence(method: Method) -> str:
    """What `make audit` found about the scored split's leakage from train, if it audited this cache."""
    path, split = Paths(method.out).audit_json, method.scored.split
    summary = json.loads(path.read_text()) if path.exists() else {}
    if summary.get("cache_fingerprint") != method.meta["fingerprint"]:
        return f"No audit of this cache: `make audit` finds {split} images that have a near-duplicate in train."
    leaked, similarity = summary["leaked_from_train"].get(split, 0), summary["settings"]["similarity"]
    labels, pairs = summary["counts"]["label"], summary["counts"]["duplicate"]
    found = f"Audit: {labels} possible label error{'s' * (labels != 1)} and {pairs} near-duplicate "
    found += f"pair{'s' * (pairs != 1)} within splits are listed in audit.html"
    if not leaked:
        return f"{found}; no {split} image has a near-duplicate in train (cosine ≥ {similarity:g})."
    return (
        f"{found}. {leaked} of the {len(method.scored.ids)} {split} images have a near-duplicate in train "
        f"(cosine ≥ {similarity:g}): every accuracy above may be inflated by them."
    )


def percent(interval: dict) -> str:
    return f"{100 * interval['estimate']:.2f}% [{100 * interval['low']:.2f}, {100 * interval['high']:.2f}]"


def table(content: dict) -> tuple[list[str], list[list[str]]]:
    """The methods table, as a header and rows of cells (Markdown and HTML render it alike)."""
    header = [
        "method",
        f"accuracy on {content['scored_split']}, 95% CI",
        "runs: mean ± sd (min–max)",
        "Δ vs best, 95% CI",
        "McNemar p",
        "extraction s (one-off), precision",
        "training s per run",
        "inference ms/image",
    ]
    rows = []
    for m in content["methods"]:
        runs = m["run_accuracies"]
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
        cost = m["cost"]
        rows.append(
            [
                m["label"],
                percent(m["accuracy"]),
                spread,
                delta,
                "–" if versus is None else f"{versus['mcnemar_p']:.2g}",
                f"{cost['extraction_seconds']:.1f}, {cost['precision']}" if cost["extraction_seconds"] else "–",
                f"{cost['train_seconds_per_run']:.1f}",
                f"{cost['inference_ms_per_image']:.2f}",
            ]
        )
    return header, rows


def protocol_lines(content: dict) -> list[str]:
    return [
        f"{m['label']}: fit on {m['protocol']['fit']}; {m['choices']}; scored on {m['protocol']['score']}."
        for m in content["methods"]
    ]


def markdown(content: dict, figure: Path, confusion: Path, thumbnail_path) -> str:
    header, rows = table(content)
    lines = [
        "# Transfer learning report",
        "",
        f"Scored on {content['images']} {content['scored_split']} images; classes {', '.join(content['class_names'])}.",
        "",
    ]
    lines += [
        f"- `{f['folder']}`: `{f['dataset']}` at {f['image_size']} px, engine `{f['engine']}`, rows "
        + ", ".join(f"{k} {v}" for k, v in f["rows"].items())
        for f in content["folders"]
    ]
    lines += ["", "## Verdict", ""] + [f"- {sentence}" for sentence in content["verdict"]]
    lines += ["", "## Methods", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Which rows each choice saw:", ""] + [f"- {line}" for line in protocol_lines(content)]
    lines += ["", f"![accuracy against cost]({figure.name})", "", f"![confusion matrices]({confusion.name})", ""]
    lines += ["## Most wrong, per method", ""]
    for label, items in content["most_wrong"].items():
        lines += [f"### {label}", ""]
        lines += [
            f"![{item['id']}]({thumbnail_path(item['id'])}) `{item['id']}`: {item['true']}, predicted "
            f"{item['predicted']} ({item['probability']:.3f})  "
            for item in items
        ] or ["(no mistakes)"]
        lines.append("")
    lines += ["## Where the methods disagree", ""]
    lines += [
        f"![{item['id']}]({thumbnail_path(item['id'])}) `{item['id']}`: {item['true']}; "
        + ", ".join(f"{k}: {v}" for k, v in item["predictions"].items())
        + "  "
        for item in content["disagreements"]
    ] or ["(they agree on every image)"]
    return "\n".join(lines) + "\n"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.verdict li{margin:.4em 0}
.grid{display:flex;flex-wrap:wrap;gap:12px}.tile{width:150px;font-size:12px;overflow-wrap:anywhere}
.tile img{max-width:140px;display:block}.tile code{word-break:break-all}
.wrong{color:#b00}"""


def _tile(item: dict, jpeg: bytes, caption: str) -> str:
    return (
        f'<div class="tile"><img src="{data_uri(jpeg)}" alt="{html.escape(item["id"])}">'
        f"<code>{html.escape(item['id'])}</code><br>{caption}</div>"
    )


def html_page(content: dict, figure: bytes, confusion: bytes, jpegs: dict[str, bytes]) -> str:
    header, rows = table(content)
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Transfer learning report</title>"
        f"<style>{STYLE}</style></head><body><h1>Transfer learning report</h1>",
        f"<p>Scored on {content['images']} {e(content['scored_split'])} images; classes "
        f"{e(', '.join(content['class_names']))}.</p><ul>",
    ]
    parts += [
        f"<li><code>{e(f['folder'])}</code>: <code>{e(f['dataset'])}</code> at {f['image_size']} px, engine "
        f"{e(f['engine'])}</li>"
        for f in content["folders"]
    ]
    parts += ["</ul><h2>Verdict</h2><ul class='verdict'>"] + [f"<li>{e(s)}</li>" for s in content["verdict"]]
    parts += ["</ul><h2>Methods</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows]
    parts += ["</table><p>Which rows each choice saw:</p><ul>"] + [
        f"<li>{e(line)}</li>" for line in protocol_lines(content)
    ]
    parts += [
        "</ul>",
        f"<img alt='accuracy against cost' src='{data_uri(figure, 'png')}'>",
        f"<img alt='confusion matrices' src='{data_uri(confusion, 'png')}'>",
        "<h2>Most wrong, per method</h2>",
    ]
    for label, items in content["most_wrong"].items():
        parts += [f"<h3>{e(label)}</h3><div class='grid'>"]
        parts += [
            _tile(
                item,
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
            item,
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


def write_report(config: ReportConfig, progress: bool = False) -> Path:
    """Write report.md, report.html, report.json and the figures into the output folder; report.md's path."""
    paths = config.paths
    methods = collect([Path(out) for out in (config.runs or [config.out])])
    rows = verdict.rows_of(methods)
    content = content_of(methods, rows)
    class_names = content["class_names"]
    figures.accuracy_against_cost(rows, paths.report_figure)
    figures.confusion_matrices(rows, class_names, paths.report_confusion)

    shown = {item["id"] for items in content["most_wrong"].values() for item in items}
    shown |= {item["id"] for item in content["disagreements"]}
    thumbnails = Thumbnails(methods[0].meta, methods[0].out)
    jpegs = {item: thumbnails.jpeg(item) for item in sorted(shown)}
    names = {item: f"{index:04d}.jpg" for index, item in enumerate(sorted(shown))}
    paths.report_thumbnails.mkdir(parents=True, exist_ok=True)
    for item, jpeg in jpegs.items():
        (paths.report_thumbnails / names[item]).write_bytes(jpeg)

    relative = paths.report_thumbnails.relative_to(paths.out).as_posix()
    cache.write_text(
        paths.report,
        markdown(content, paths.report_figure, paths.report_confusion, lambda item: f"{relative}/{names[item]}"),
    )
    cache.write_text(
        paths.report_html,
        html_page(content, paths.report_figure.read_bytes(), paths.report_confusion.read_bytes(), jpegs),
    )
    cache.write_text(paths.report_json, json.dumps(content, indent=2))
    return paths.report
