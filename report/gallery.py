"""Pictures of the mistakes: for each method the scored images it gets most wrong, and the
images where the methods disagree. Users look here first; label errors show up here.

Thumbnails are read from the cache's own source (a folder's files, or TFDS's records).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from extract import pipeline
from extract.hashes import ContentHashes
from extract.sources import open_source
from report.verdict import Row
from workflow.paths import Paths

THUMBNAIL = 128  # pixels, longer side
MOST_WRONG = 8
DISAGREEMENTS = 12


def most_wrong(row: Row, class_names: list[str]) -> list[tuple[str, str, str, float]]:
    """(id, true class, predicted class, its probability) of the misclassified images, surest first.
    Predictions are the mean probability over the method's runs."""
    s = row.method.scored
    mean = s.probabilities.mean(axis=0)
    predicted = mean.argmax(axis=1)
    wrong = np.flatnonzero(predicted != s.labels)
    order = wrong[np.argsort(-mean[wrong, predicted[wrong]], kind="stable")][:MOST_WRONG]
    return [
        (s.ids[i], class_names[s.labels[i]], class_names[predicted[i]], float(mean[i, predicted[i]])) for i in order
    ]


def disagreements(rows: list[Row], class_names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(id, true class, each method's predicted class) where the methods' mean predictions differ,
    the images most methods get wrong first."""
    first = rows[0].method.scored
    predicted = np.stack([r.method.scored.probabilities.mean(axis=0).argmax(axis=1) for r in rows])
    differ = np.flatnonzero((predicted != predicted[0]).any(axis=0))
    wrong = (predicted[:, differ] != first.labels[differ]).sum(axis=0)
    order = differ[np.argsort(-wrong, kind="stable")][:DISAGREEMENTS]
    return [(first.ids[i], class_names[first.labels[i]], [class_names[p] for p in predicted[:, i]]) for i in order]


class Thumbnails:
    """JPEG thumbnails of a cache's images by id, read through the cache's source."""

    def __init__(self, meta: dict, out: Path):
        settings = meta["extract_config"]
        hashes = ContentHashes(Paths(out).content_hashes)  # read only: spares hashing unchanged files
        source = open_source(meta["dataset"], settings["limit"], settings["tfds_data_dir"], hashes)
        self._splits = {s.name: s for s in source.splits}

    def jpeg(self, split_name: str, image_id: str) -> bytes:
        split = self._splits[split_name]
        try:
            encoded = pipeline.read(split, split.ids.index(image_id))
            image = Image.open(io.BytesIO(encoded)).convert("RGB")
        except (OSError, ValueError):
            image = Image.new("RGB", (THUMBNAIL, THUMBNAIL), (200, 200, 200))  # gone or unreadable since
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()


def data_uri(data: bytes, kind: str = "jpeg") -> str:
    """An image embedded in a page: report.html opens anywhere, alone."""
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()
