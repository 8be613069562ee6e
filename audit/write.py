"""`make audit`: every finding into audit.csv but leakage, which goes to audit_leakage.csv (what
`EXCLUDE=audit.csv` drops is label cleaning alone), the counts into audit.json (which the report
quotes), and galleries of thumbnails into audit.md and a self-contained audit.html."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pandas as pd

import cache
from audit import find
from audit.config import AuditConfig
from cache.lock import holding_lock
from extract.reading.thumbnails import Thumbnails, data_uri
from workflow import page
from workflow.page import Gallery, Paragraph, Picture, Section, Span, Table, Tile

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
    thumbnail = {item: Picture(item, f"{relative}/{names[item]}", data_uri(jpeg)) for item, jpeg in jpegs.items()}
    rendered = page.render(page_of(summary, shown, thumbnail.__getitem__), "audit", "audit")
    cache.write_text(paths.audit_md, rendered["md"])
    cache.write_text(paths.audit_html, rendered["html"])
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


def page_of(summary: dict, shown: dict[str, pd.DataFrame], picture: Callable[[str], Picture]) -> Section:
    """The audit as a page (`workflow.page`): the table of label pairs, then each issue's galleries,
    pairs under their reason; `picture(id)` each image's thumbnail."""
    images = ", ".join(f"{n} {split}" for split, n in summary["images"].items())
    intro = [Span(summary["dataset"], "code"), Span(f": {images} images. Every finding but leakage is in audit.csv; ")]
    intro += [Span("make heads EXCLUDE=audit.csv", "code"), Span(" trains without them. Leakage is in ")]
    intro += [Span("audit_leakage.csv: "), Span("EXCLUDE=audit_leakage.csv", "code")]
    blocks = [Paragraph(intro + [Span(" removes those train copies instead.")])]
    if summary["label_pairs"]:
        pairs = [[p["given"], p["suggested"], str(p["count"])] for p in summary["label_pairs"]]
        blocks.append(
            Section("Label issues by given and suggested class", [Table(["given", "suggested", "issues"], pairs)])
        )
    for issue, found in shown.items():
        issue_blocks = [Paragraph(f"Score: {SCORES[issue]}.")]
        for reason, rows in groups(found):
            more = _more(summary, issue, reason, len(rows))
            tiles = [
                Tile(
                    [picture(row.id)] + ([picture(row.paired_id)] if row.paired_id else []),
                    row.id,
                    f"({row.split})",
                    [_caption(row)],
                )
                for row in rows.itertuples()
            ]
            found_here = Gallery(tiles, more=f"… and {more} more in {CSV[issue]}" if more > 0 else "")
            issue_blocks.append(Section(f"{reason} ({len(rows) + more})", [found_here]) if reason else found_here)
        blocks.append(Section(f"{TITLES[issue]} ({summary['counts'][issue]})", issue_blocks))
    return Section("Dataset audit", blocks)
