"""`make audit`: every finding into audit.csv but leakage, which goes to audit_leakage.csv (what
`EXCLUDE=audit.csv` drops is label cleaning alone), the counts into audit.json (which the report
quotes), and galleries of thumbnails into audit.md and a self-contained audit.html."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass

import pandas as pd

import cache
from audit import find
from audit.config import AuditConfig
from cache.lock import holding_lock
from extract.reading.thumbnails import Thumbnails, data_uri

SHOWN = 200  # findings per issue in the galleries; audit.csv holds them all
TITLES = {
    "label": "Label issues: the given label is unlikely",
    "leakage": "Leakage: near-duplicates across splits",
    "duplicate": "Near-duplicates within a split",
    "outlier": "Outliers: far from the images of their own class",
}
CSV = {issue: "audit_leakage.csv" if issue == "leakage" else "audit.csv" for issue in find.ISSUES}
PAIRS = "cosine similarity of the features; pixels: correlation of the grey thumbnails"
SCORES = {
    "label": "1 - the out-of-fold probability of the given label",
    "leakage": PAIRS,
    "duplicate": PAIRS,
    "outlier": "1 - mean cosine similarity to the nearest images of the same class",
}


@dataclass
class Audit:
    findings: pd.DataFrame  # audit.csv
    summary: dict  # audit.json


@holding_lock("make audit")
def write_audit(config: AuditConfig, progress: bool = False) -> Audit:
    paths = config.paths
    meta = cache.info(paths.cache)
    findings = find.audit(paths.cache, config)
    summary = summary_of(findings, meta, config)
    shown = {issue: shown_of(findings[findings["issue"] == issue]) for issue in find.ISSUES}
    pictured = sorted(
        {item for rows in shown.values() for column in ("id", "paired_id") for item in rows[column] if item}
    )
    thumbnails = Thumbnails(meta, paths.out)
    jpegs = {item: thumbnails.jpeg(item) for item in pictured}
    names = {item: f"{index:04d}.jpg" for index, item in enumerate(pictured)}
    paths.audit_thumbnails.mkdir(parents=True, exist_ok=True)
    for item, jpeg in jpegs.items():
        (paths.audit_thumbnails / names[item]).write_bytes(jpeg)

    leakage = findings["issue"] == "leakage"  # kept apart: not in what EXCLUDE=audit.csv drops
    cache.write_text(paths.audit_csv, findings[~leakage].to_csv(index=False))
    cache.write_text(paths.audit_leakage_csv, findings[leakage].to_csv(index=False))
    cache.write_text(paths.audit_json, json.dumps(summary, indent=2))
    relative = paths.audit_thumbnails.relative_to(paths.out).as_posix()
    cache.write_text(paths.audit_md, markdown(summary, shown, lambda item: f"{relative}/{names[item]}"))
    cache.write_text(paths.audit_html, html_page(summary, shown, jpegs))
    return Audit(findings, summary)


def summary_of(findings: pd.DataFrame, meta: dict, config: AuditConfig) -> dict:
    split_of = {item: split for split in meta["splits"] for item in cache.ids(config.paths.cache, split)}
    leakage = findings[findings["issue"] == "leakage"]
    from_train = leakage[leakage["split"] == "train"]
    leaked_ids = {
        split: sorted({item for item in from_train["paired_id"] if split_of[item] == split})
        for split in meta["splits"]
        if split != "train"
    }
    return {
        "cache_fingerprint": meta["fingerprint"],
        "dataset": meta["dataset"],
        "images": {split: counts["rows"] for split, counts in meta["splits"].items()},
        "counts": {issue: int((findings["issue"] == issue).sum()) for issue in find.ISSUES},
        # images of each other split with a near-duplicate in train: what inflates its accuracy
        "leaked_from_train": {split: len(ids) for split, ids in leaked_ids.items()},
        "leaked_ids": leaked_ids,  # the report scores again without them (leakage-free)
        # those images by the strongest reason of their copies (find.REASONS): what the report says
        "leaked_by_reason": {split: by_reason(from_train, ids) for split, ids in leaked_ids.items()},
        "pairs_by_reason": {
            issue: {
                reason: int(((findings["issue"] == issue) & (findings["reason"] == reason)).sum())
                for reason in find.REASONS
            }
            for issue in ("leakage", "duplicate")
        },
        "label_pairs": label_pairs(findings),
        "settings": asdict(config),
    }


def by_reason(pairs: pd.DataFrame, ids: list[str]) -> dict[str, int]:
    """How many of `ids` (each paired in `pairs`) have a copy for each reason, each image counted
    under its strongest one."""
    strongest = pairs.assign(_rank=pairs["reason"].map(find.REASONS.index)).groupby("paired_id")["_rank"].min()
    counted = strongest.reindex(ids).value_counts()
    return {reason: int(counted.get(rank, 0)) for rank, reason in enumerate(find.REASONS)}


def label_pairs(findings: pd.DataFrame) -> list[dict]:
    """The count of label issues per (given, suggested) pair, most first: the pairs to look at first."""
    labels = findings[findings["issue"] == "label"]
    counted = labels.groupby(["given_label", "suggested_label"]).size().sort_values(ascending=False, kind="stable")
    return [{"given": given, "suggested": suggested, "count": int(n)} for (given, suggested), n in counted.items()]


def groups(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The findings of one issue under one heading each: pairs by reason (find.REASONS' order),
    other findings all under one ("")."""
    if not rows["paired_id"].astype(bool).any():
        return [("", rows)]
    return [(reason, rows[rows["reason"] == reason]) for reason in find.REASONS if (rows["reason"] == reason).any()]


def shown_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The galleries' findings of one issue: the first SHOWN under each heading."""
    return pd.concat([group.head(SHOWN) for _, group in groups(rows)])


def _more(summary: dict, issue: str, reason: str, shown: int) -> int:
    """How many findings under one heading audit.csv holds beyond those shown."""
    total = summary["pairs_by_reason"][issue][reason] if reason else summary["counts"][issue]
    return total - shown


def _caption(row) -> str:
    if row.issue == "label":
        return f"given {row.given_label}, suggested {row.suggested_label} (score {row.score:.3f})"
    if row.issue in ("leakage", "duplicate"):
        pixels = "" if pd.isna(row.pixel_score) else f", pixels {row.pixel_score:.3f}"
        return f"{row.reason}: similarity {row.score:.4f}{pixels} with {row.paired_id}"
    return f"{row.given_label}, isolation {row.score:.3f}"


def markdown(summary: dict, shown: dict[str, pd.DataFrame], thumbnail_path) -> str:
    lines = [
        "# Dataset audit",
        "",
        f"`{summary['dataset']}`: {', '.join(f'{n} {split}' for split, n in summary['images'].items())} images. "
        "Every finding but leakage is in audit.csv; `make heads EXCLUDE=audit.csv` trains without them. "
        "Leakage is in audit_leakage.csv: `EXCLUDE=audit_leakage.csv` removes those train copies instead.",
        "",
    ]
    if summary["label_pairs"]:
        lines += ["## Label issues by given and suggested class", "", "| given | suggested | issues |", "|---|---|---|"]
        lines += [f"| {p['given']} | {p['suggested']} | {p['count']} |" for p in summary["label_pairs"]] + [""]
    for issue, found in shown.items():
        total = summary["counts"][issue]
        lines += [f"## {TITLES[issue]} ({total})", "", f"Score: {SCORES[issue]}.", ""]
        for reason, rows in groups(found):
            lines += [f"### {reason} ({len(rows) + _more(summary, issue, reason, len(rows))})", ""] if reason else []
            for row in rows.itertuples():
                pictures = f"![]({thumbnail_path(row.id)})" + (
                    f" ![]({thumbnail_path(row.paired_id)})" if row.paired_id else ""
                )
                lines.append(f"- {pictures} `{row.id}` ({row.split}): {_caption(row)}")
            if (more := _more(summary, issue, reason, len(rows))) > 0:
                lines.append(f"- … and {more} more in {CSV[issue]}")
            lines.append("")
    return "\n".join(lines)


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:12px}.tile{width:150px;font-size:12px;overflow-wrap:anywhere}
.pair{width:300px}.tile img{max-width:140px}.tile code{word-break:break-all}"""


def html_page(summary: dict, shown: dict[str, pd.DataFrame], jpegs: dict[str, bytes]) -> str:
    e = html.escape
    images = ", ".join(f"{n} {e(split)}" for split, n in summary["images"].items())
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Dataset audit</title>"
        f"<style>{STYLE}</style></head><body><h1>Dataset audit</h1>",
        f"<p><code>{e(summary['dataset'])}</code>: {images} images. Every finding but leakage is in audit.csv; "
        "<code>make heads EXCLUDE=audit.csv</code> trains without them. Leakage is in audit_leakage.csv: "
        "<code>EXCLUDE=audit_leakage.csv</code> removes those train copies instead.</p>",
    ]
    if summary["label_pairs"]:
        parts += ["<h2>Label issues by given and suggested class</h2><table border='1' cellpadding='4'>"]
        parts += ["<tr><th>given</th><th>suggested</th><th>issues</th></tr>"]
        parts += [
            f"<tr><td>{e(p['given'])}</td><td>{e(p['suggested'])}</td><td>{p['count']}</td></tr>"
            for p in summary["label_pairs"]
        ] + ["</table>"]
    for issue, found in shown.items():
        total = summary["counts"][issue]
        parts += [f"<h2>{e(TITLES[issue])} ({total})</h2><p>Score: {e(SCORES[issue])}.</p>"]
        for reason, rows in groups(found):
            more = _more(summary, issue, reason, len(rows))
            parts.append((f"<h3>{e(reason)} ({len(rows) + more})</h3>" if reason else "") + "<div class='grid'>")
            for row in rows.itertuples():
                pictures = [row.id] + ([row.paired_id] if row.paired_id else [])
                parts.append(
                    f"<div class='tile{' pair' if row.paired_id else ''}'>"
                    + "".join(f"<img src='{data_uri(jpegs[item])}' alt='{e(item)}'>" for item in pictures)
                    + f"<br><code>{e(row.id)}</code> ({e(row.split)})<br>{e(_caption(row))}</div>"
                )
            parts.append("</div>" + (f"<p>… and {more} more in {CSV[issue]}</p>" if more > 0 else ""))
    parts.append("</body></html>")
    return "\n".join(parts)
