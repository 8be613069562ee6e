"""The pages people read (the report, the audit) as one structure each, rendered by Jinja2
templates to Markdown and to a self-contained HTML page: what a page says is built once, in
Python, and how each format shows it lives in its templates alone.

A page is a `Section` whose blocks are paragraphs, bullet lists, tables, figures, galleries of
thumbnails and sections below it (the heading level is the depth). Text is a string, or a list of
`Span`s where part of it is code or a wrong prediction. The shared templates in
`workflow/templates/` render every block (`blocks.*.j2`) and a page's frame (`page.*.j2`); each
page's own (`<package>/templates/<name>.html.j2`, `<name>.md.j2`) extends the frame with its style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import jinja2

FORMATS = ("md", "html")
COMMAND = re.compile(r"`(make [^`]+)`")  # what `spans` shows as code


@dataclass
class Span:
    """Part of a line of text: `kind` "code" (an id, a command) or "wrong" (a wrong prediction)."""

    text: str
    kind: str = ""


Text = str | list[Span]


@dataclass
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    text: Text


@dataclass
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: list[Text]


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """A picture: `path` (relative to the page's folder) for Markdown, `uri` (a data URI) for HTML."""

    kind: ClassVar[str] = "figure"
    alt: str
    path: str
    uri: str


@dataclass
class Picture:
    """A thumbnail of one image of the cache, by id: `path` for Markdown, `uri` for HTML."""

    id: str
    path: str
    uri: str


@dataclass
class Tile:
    """One finding of a gallery: its pictures (an image, or a pair), the image's id, a `note`
    after the id, and a caption of a line or more."""

    pictures: list[Picture]
    id: str
    note: str = ""
    caption: list[Text] = field(default_factory=list)


@dataclass
class Gallery:
    """Tiles; `empty`: what shows where there are none; `more`: a line on those not shown."""

    kind: ClassVar[str] = "gallery"
    tiles: list[Tile]
    empty: str = ""
    more: str = ""


@dataclass
class Section:
    """A heading and its blocks. `fold` "open" or "closed": in HTML, a section a click away (open
    at first or not); Markdown shows it as any other."""

    kind: ClassVar[str] = "section"
    title: str
    blocks: list = field(default_factory=list)
    fold: str = ""


def titles(section: Section) -> list[str]:
    """Every heading of a page, its own first: what each rendering must show."""
    return [section.title] + [t for block in section.blocks if block.kind == "section" for t in titles(block)]


def spans(text: Text) -> list[Span]:
    """Text as spans: in a string, a backticked `make …` command is code (sentences shared by both
    formats name commands in Markdown's way; HTML shows them as code, not as backticks). Only
    commands: a string may carry data, and a class name's own backtick is text."""
    if not isinstance(text, str):
        return text
    parts = COMMAND.split(text)
    return [Span(part, "code" if k % 2 else "") for k, part in enumerate(parts) if part]


def markdown_cell(text: str) -> str:
    """A table cell's text, safe in a Markdown table: a `|` would end the cell, a newline the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def unknown_block(kind: str):
    """A block no template renders: fails the rendering, rather than leave the block out."""
    raise ValueError(f"the page templates render no {kind!r} block")


def _environment(package: str) -> jinja2.Environment:
    """The page's own templates first, then the shared blocks. HTML templates autoescape; a field
    a template names that the structure lacks fails (StrictUndefined) instead of vanishing."""
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(package), jinja2.PackageLoader("workflow")]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(md_cell=markdown_cell, spans=spans, unknown_block=unknown_block)
    return environment


def render(page: Section, package: str, name: str) -> dict[str, str]:
    """The page in each of FORMATS, from `<package>/templates/<name>.<format>.j2`."""
    environment = _environment(package)
    return {form: environment.get_template(f"{name}.{form}.j2").render(page=page) for form in FORMATS}
