"""Where images come from: a folder of class folders (`extract.reading.folders`), or a TFDS dataset
(`extract.reading.tfds_source`).

Every source gives, per split, the ids and labels of its inputs in a fixed order, and where their
bytes are (`extract.reading.split`); reading them is `extract.reading.pipeline`'s job. This module picks the reader
for a `DATA` value, and keeps the names the rest of the project imports from it.
"""

from __future__ import annotations

from pathlib import Path

from extract.reading import tfds_source as tfds_reader
from extract.reading.folders import folder_source
from extract.reading.hashes import ContentHashes
from extract.reading.sampling import in_row_order, name_bytes, quotas
from extract.reading.split import DataError, Source, Split
from extract.reading.tfds_source import TFDS_SPLITS, tfds_source

__all__ = [
    "TFDS_SPLITS",
    "DataError",
    "Source",
    "Split",
    "cheap_fingerprint",
    "folder_source",
    "in_row_order",
    "name_bytes",
    "open_source",
    "quotas",
    "tfds_source",
]


def open_source(
    data: str, limit: int | None = None, tfds_data_dir: str | None = None, hashes: ContentHashes | None = None
) -> Source:
    """`tfds:<name>` or a folder path; `hashes` (the cache's index) spares re-reading unchanged files."""
    if data.startswith("tfds:"):
        return tfds_source(data.removeprefix("tfds:"), limit, tfds_data_dir)
    return folder_source(Path(data), limit, hashes)


def cheap_fingerprint(
    data: str, limit: int | None = None, tfds_data_dir: str | None = None, hashes: ContentHashes | None = None
) -> str:
    """A fingerprint that changes whenever the source's does, computed without TensorFlow: a
    folder's own fingerprint (listing and content hashes, from `hashes` where files are unchanged),
    or that of the files TFDS prepared."""
    if data.startswith("tfds:"):
        return tfds_reader.cheap_fingerprint(data.removeprefix("tfds:"), limit, tfds_data_dir)
    return folder_source(Path(data), limit, hashes).fingerprint
