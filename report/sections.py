"""The report's page: what report.md and report.html show, as one structure of sections
(`workflow.page`), built from report.json's content; the templates in report/templates render it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from report import verdict
from workflow.page import Bullets, Figure, Gallery, Paragraph, Picture, Section, Span, Table, Text, Tile


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


def page_of(content: dict, figures: dict[str, Figure], picture: Callable[[str], Picture]) -> Section:
    """The report as a page: `figures` by name (metric, confusion, and fine_tuning where it ran),
    `picture(id)` each image's thumbnail."""
    folders = [
        [
            Span(f["folder"], "code"),
            Span(": "),
            Span(f["dataset"], "code"),
            Span(f" on {f['backbone']} at {f['image_size']} px, engine "),
        ]
        + [Span(f["engine"], "code"), Span(", rows " + ", ".join(f"{k} {v}" for k, v in f["rows"].items()))]
        for f in content["folders"]
    ]
    per_class = [  # the best open, the others a click away
        Section(m["label"], [Table(*class_table(m))], fold="open" if index == 0 else "closed")
        for index, m in enumerate(content["methods"])
    ]
    blocks = [
        Paragraph(
            f"Scored on {content['images']} {content['scored_split']} images; "
            f"classes {', '.join(content['class_names'])}."
        ),
        Bullets(folders),
        Section("Verdict", [Bullets(content["verdict"])]),
        Section(
            "Methods",
            [Table(*table(content)), Paragraph("Which rows each choice saw:"), Bullets(protocol_lines(content))],
        ),
        Section(
            "Per class",
            [Paragraph("Precision, recall and F1 in %, with 95% bootstrap intervals over images."), *per_class]
            + [figures["metric"], Paragraph(f"Confusion matrices: {content['confusion']}; and as recall.")]
            + [figures["confusion"]],
        ),
    ]
    if content["fine_tuning"]:
        blocks.append(
            Section(
                "Fine-tuning's recipe", [Bullets(fine_tuning_lines(content["fine_tuning"])), figures["fine_tuning"]]
            )
        )
    return Section("Transfer learning report", blocks + galleries(content, picture))


def galleries(content: dict, picture: Callable[[str], Picture]) -> list[Section]:
    """The pictures of the mistakes: the best method's top confusions and its most confidently wrong
    images per class, each method's most wrong, and where the methods disagree."""

    def gallery(items: list[dict], caption: Callable[[dict], list[Text]], empty: str) -> Gallery:
        return Gallery([Tile([picture(i["id"])], i["id"], caption=caption(i)) for i in items], empty=empty)

    def predicted(item: dict) -> Span:
        return Span(f"predicted {item['predicted']} ({item['probability']:.3f})", "wrong")

    def votes(item: dict) -> list[Text]:  # each method's class, a wrong one marked
        votes = [
            [Span(f"{k}: "), Span(v, "" if v == item["true"] else "wrong")] for k, v in item["predictions"].items()
        ]
        return [f"true {item['true']}", *votes]

    confusions, wrong = content["top_confusions"], content["wrong_per_class"]
    cells = [
        Section(line, [gallery([{"id": item} for item in cell["ids"]], lambda i: [], "")])
        for line, cell in zip(confusion_lines(content), confusions["cells"], strict=True)
    ]
    per_class = [
        Section(name, [gallery(items, lambda i: [[predicted(i)]], "(none wrong)")])
        for name, items in wrong["classes"].items()
    ]
    per_method = [
        Section(label, [gallery(items, lambda i: [[Span(f"true {i['true']}, "), predicted(i)]], "(no mistakes)")])
        for label, items in content["most_wrong"].items()
    ]
    return [
        Section(f"Top confusions of {confusions['method']}", cells or [Paragraph("(no mistakes)")]),
        Section(f"Most confidently wrong, per class ({wrong['method']})", per_class),
        Section("Most wrong, per method", per_method),
        Section(
            "Where the methods disagree", [gallery(content["disagreements"], votes, "(they agree on every image)")]
        ),
    ]
