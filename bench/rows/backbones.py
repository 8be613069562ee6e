"""Extraction speed and cache size per registered backbone (`bench.backbones`)."""

from __future__ import annotations

from collections.abc import Iterator

from bench.backbones import backbone_rows
from bench.context import Bench


def rows(bench: Bench) -> Iterator[tuple]:
    yield from backbone_rows(bench.data, bench.weights, bench.quick)
