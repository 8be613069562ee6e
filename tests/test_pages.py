"""The report's and the audit's pages from their templates: every section of the structure shows
in both formats, in order; HTML escapes what the data says; a field the structure lacks fails."""

import re
from html.parser import HTMLParser

import jinja2
import pandas as pd
import pytest

from audit import write as audit_write
from report import sections
from workflow import page

ODD = '<b>&"x"'  # a class name that is markup, an entity and quotes at once
PIPE = "a|b"  # a class name that would split a Markdown table cell


class Headings(HTMLParser):
    """The text of every heading and every <summary> of an HTML page, in order; and all its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.inside, self.text = [], None, ""

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h\d|summary", tag):
            self.inside = tag
            self.found.append("")

    def handle_endtag(self, tag):
        if tag == self.inside:
            self.inside = None

    def handle_data(self, data):
        self.text += data
        if self.inside:
            self.found[-1] += data


def parsed(html: str) -> Headings:
    parser = Headings()
    parser.feed(html)
    return parser


def markdown_headings(markdown: str) -> list[str]:
    return [line.lstrip("#")[1:] for line in markdown.splitlines() if re.match(r"#+ ", line)]


def picture(item: str) -> page.Picture:
    return page.Picture(item, f"thumbnails/{item}.jpg", "data:image/jpeg;base64,AAAA")


def interval(value: float) -> dict:
    return {"estimate": value, "low": value - 0.05, "high": value + 0.05}


def report_content() -> dict:
    """report.json's content, every section present: two methods, fine-tuning, every gallery."""
    classes = [ODD, PIPE]
    scores = {"precision": interval(0.8), "recall": interval(0.7), "f1": interval(0.75)}
    methods = [
        {
            "label": label,
            "accuracy": interval(0.9),
            "balanced_accuracy": interval(0.88),
            "macro_f1": interval(0.87),
            "run_scores": [0.9, 0.91],
            "spread": 0.005,
            "versus_best": versus,
            "cost": {"extraction_seconds": 2.0, "precision": "float32", "train_seconds_per_run": 1.5}
            | {"inference_ms_per_image": 1.0},
            "protocol": {"fit": "train less dev", "choose": "dev rows", "score": "validation"},
            "trained_on": {},
            "choices": "C by cross-validation",
            "per_class": {name: {"support": 5} | scores for name in classes},
        }
        for label, versus in (("logreg", None), ("dense", interval(-0.02) | {"mcnemar_p": 0.5}))
    ]
    return {
        "images": 10,
        "scored_split": "validation",
        "class_names": classes,
        "metric": "accuracy",
        "trained_on_differs": [],
        "confusion": "each image's majority vote",
        "folders": [
            {
                "folder": "out",
                "dataset": "data",
                "backbone": "mobilenet_v2",
                "image_size": 160,
                "engine": "tflite",
                "rows": {"train": 8},
            }
        ],
        "verdict": [f"logreg is ahead on {ODD}."],
        "methods": methods,
        "fine_tuning": {
            "recipe": "searched",
            "start": "logreg",
            "learning_rate": 1e-4,
            "schedule": "cosine",
            "fine_tune_at": 100,
            "search": None,
            "start_won": False,
            "best_epoch": 2,
        },
        "top_confusions": {
            "method": "logreg",
            "cells": [{"true": ODD, "predicted": PIPE, "count": 1, "of": 5, "ids": ["i1"]}],
        },
        "wrong_per_class": {
            "method": "logreg",
            "classes": {ODD: [{"id": "i1", "predicted": PIPE, "probability": 0.9}], PIPE: []},
        },
        "most_wrong": {"logreg": [{"id": "i1", "true": ODD, "predicted": PIPE, "probability": 0.9}], "dense": []},
        "disagreements": [{"id": "i1", "true": ODD, "predictions": {"logreg": PIPE, "dense": ODD}}],
    }


def report_page() -> page.Section:
    figures = {name: page.Figure(name, f"{name}.png", "data:image/png;base64,AAAA") for name in ("metric", "confusion")}
    return sections.page_of(report_content(), figures | {"fine_tuning": figures["metric"]}, picture)


def audit_page() -> page.Section:
    summary = {
        "dataset": ODD,
        "images": {"train": 8, "validation": 2},
        "label_pairs": [{"given": ODD, "suggested": PIPE, "count": 1}],
        "counts": {"label": 1, "leakage": 3, "duplicate": 0, "outlier": 0},
        "pairs_by_reason": {"leakage": {"byte copy": 3, "pixel match": 0, "feature similarity": 0}},
    }
    row = {"split": "train", "score": 0.9, "pixel_score": float("nan"), "suggested_label": PIPE, "given_label": ODD}
    label = pd.DataFrame([row | {"id": "i1", "issue": "label", "paired_id": "", "reason": ""}])
    leakage = pd.DataFrame([row | {"id": "i2", "issue": "leakage", "paired_id": "i3", "reason": "byte copy"}])
    empty = label.iloc[:0]
    shown = {"label": label, "leakage": leakage, "duplicate": empty, "outlier": empty}
    return audit_write.page_of(summary, shown, picture)


@pytest.mark.parametrize("package, build", [("report", report_page), ("audit", audit_page)])
def test_every_section_of_the_structure_shows_in_both_formats_in_order(package, build):
    structure = build()
    rendered = page.render(structure, package, package)
    titles = page.titles(structure)
    assert len(titles) > 5
    assert markdown_headings(rendered["md"]) == titles
    assert parsed(rendered["html"]).found == titles


@pytest.mark.parametrize("package, build", [("report", report_page), ("audit", audit_page)])
def test_html_escapes_a_class_name_that_is_markup_and_markdown_keeps_table_cells_whole(package, build):
    rendered = page.render(build(), package, package)
    html, markdown = rendered["html"], rendered["md"]
    assert ODD not in html and "&lt;b&gt;&amp;&#34;x&#34;" in html  # shown as text, not as a tag
    assert ODD in parsed(html).text and ODD in markdown
    found = tables(markdown)
    assert any("a\\|b" in line for table in found for line in table)
    for table in found:  # a | in a cell is escaped: every row has the header's cells
        assert len({len(re.split(r"(?<!\\)\|", line)) for line in table}) == 1, table


def test_the_report_page_words_a_start_that_won_a_class_without_images_and_training_that_differs():
    """The sentences and cells a reader meets where fine-tuning never beat its start, a class has no
    scored image (no interval to give), and the methods' training saw different things, some of
    them recorded by one method only (a run from before they were recorded)."""
    content = report_content()
    content["fine_tuning"]["start_won"] = True
    nan = {"estimate": float("nan"), "low": float("nan"), "high": float("nan")}
    content["methods"][0]["per_class"][PIPE] = {"support": 0, "precision": nan, "recall": nan, "f1": nan}
    content["trained_on_differs"] = ["backbone_weights", "dev_fraction", "views"]
    content["methods"][0]["trained_on"] = {"backbone_weights": "ab" * 32, "dev_fraction": 0.1, "views": 1}
    content["methods"][1]["trained_on"] = {"views": 3}
    figures = {name: page.Figure(name, f"{name}.png", "data:image/png;base64,AAAA") for name in ("metric", "confusion")}
    structure = sections.page_of(content, figures | {"fine_tuning": figures["metric"]}, picture)
    markdown = page.render(structure, "report", "report")["md"]
    assert "The best epoch was epoch 0, the start itself: fine-tuning did not help here." in markdown
    assert "The best epoch was 2" not in markdown
    assert "| a\\|b | 0 | – | – | – |" in markdown  # no images: a dash, not nan%
    assert (
        "logreg: fit on train less dev, backbone weights sha256 abababababab, dev fraction 0.1, 1 view of each image;"
        in (markdown)
    )
    assert (
        "dense: fit on train less dev, backbone weights not recorded, dev fraction not recorded, 3 views of each"
        in (markdown)
    )


def tables(markdown: str) -> list[list[str]]:
    """Each Markdown table's lines."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def test_a_field_the_structure_lacks_fails_instead_of_vanishing():
    class Figureless:
        kind = "figure"
        alt = "no path"  # nor uri

    with pytest.raises(jinja2.UndefinedError):
        page.render(page.Section("page", [Figureless()]), "report", "report")


def test_a_block_no_template_renders_fails():
    class Unknown:
        kind = "video"

    with pytest.raises(ValueError, match="no 'video' block"):
        page.render(page.Section("page", [Unknown()]), "audit", "audit")


def test_backticked_commands_are_code_in_html_and_a_class_names_backticks_are_text():
    said = "Classes it`s, <don`t>: `make audit` finds them, and `make heads EXCLUDE=x` drops them."
    rendered = page.render(page.Section("t", [page.Paragraph(said)]), "report", "report")
    assert (
        "Classes it`s, &lt;don`t&gt;: <code>make audit</code> finds them, and <code>make heads EXCLUDE=x</code> "
        "drops them." in rendered["html"]
    )
    assert said in rendered["md"]
    assert page.spans("a ` b") == [page.Span("a ` b")]  # a lone backtick is text
