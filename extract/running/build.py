"""`make features`: say whether the cache is up to date from its quick key, without loading
TensorFlow, and otherwise run the extraction (`extract.running.extraction`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import cache
from cache.lock import exclusive
from extract.config import ExtractConfig
from extract.reading.hashes import ContentHashes
from extract.reading.sources import DataError, Source, cheap_fingerprint, folder_source
from workflow.paths import Paths


@dataclass
class SplitSummary:
    split: str
    images: int
    skipped: list[tuple[str, str]]  # (id, reason) of each input left out
    warnings: dict[str, str]  # {id: libjpeg's warning} of each input kept despite damaged data
    extracted: int  # inputs that went through the model in the run that wrote the cache
    seconds: float  # of that run's extraction
    empty_classes: list[str]  # classes with no image in this split

    @property
    def images_per_s(self) -> float:
        return self.extracted / self.seconds if self.seconds else 0.0


@dataclass
class Summary:
    path: Path
    status: str  # "built", "resumed", "up to date", "updated" and what was reused, "rebuilt" and why
    splits: list[SplitSummary] = field(default_factory=list)
    precision: str = "float32"
    precision_check: dict | None = (
        None  # int8: its agreement with float32 on the choice rows (extract.network.calibration)
    )

    def precision_lines(self) -> list[str]:
        """int8's agreement with float32, and a warning where it costs accuracy; nothing for float32."""
        from extract.network.calibration import describe

        return describe(self.precision_check) if self.precision_check else []


def run(config: ExtractConfig, progress: bool = True) -> Summary:
    paths = config.paths
    hashes = ContentHashes(paths.content_hashes, verify=config.verify)
    # a folder is listed once per run: for its quick key, then for the extraction
    folder = None if config.data.startswith("tfds:") else folder_source(Path(config.data), config.limit, hashes)
    key = None if config.force else _quick_key(config, folder)
    if key is not None and key == _recorded_quick_key(paths):
        hashes.save()  # a touched file's new stamp
        return summary_of(paths.cache, "up to date")
    with exclusive(paths.lock, "make features"):  # before TensorFlow loads: a second writer stops at once
        from extract.running import extraction  # TensorFlow and the model: only when there may be work to do

        status = extraction.extract(config, progress, hashes, folder)
        key = _quick_key(config, folder)  # again: a TFDS source has prepared its files by now
        hashes.save()
        if key is not None:
            record = {
                "quick_key": key,
                "fingerprint": cache.info(paths.cache)["fingerprint"],
                "cache_file": _file_stamp(paths.cache),
            }
            cache.write_text(paths.quick_key, json.dumps(record))
        return summary_of(paths.cache, status)


def _quick_key(config: ExtractConfig, folder: Source | None) -> str | None:
    """The quick key of a listed folder, or of a TFDS source (`folder` None)."""
    data_key = folder.fingerprint if folder else cheap_fingerprint(config.data, config.limit, config.tfds_data_dir)
    return config.quick_key(data_key)


def _file_stamp(path: Path) -> list[int]:
    """Size and modification time: bytes overwritten in place change them."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _recorded_quick_key(paths: Paths) -> str | None:
    """The quick key kept beside the cache, if it still stands for the cache as it was written:
    the same fingerprint, and a file untouched since (else the full check, which reads every
    value against its checksum, decides)."""
    try:
        record = json.loads(paths.quick_key.read_text())
        if record["cache_file"] != _file_stamp(paths.cache):
            return None
        return record["quick_key"] if record["fingerprint"] == cache.info(paths.cache)["fingerprint"] else None
    except (OSError, ValueError, KeyError, TypeError, cache.CacheError):
        return None


def data_change(paths: Paths) -> str | None:
    """What changed in the cache's data folder since the cache was built ("2 files added, 1
    changed"), or None if nothing did; without TensorFlow. TFDS sources are not checked: their
    prepared files are versioned."""
    meta = cache.info(paths.cache)
    if "extract_config" not in meta or meta["dataset"].startswith("tfds:"):
        return None  # not written by extraction (made in Python), or from TFDS
    hashes = ContentHashes(paths.content_hashes)  # read only: extraction keeps the index
    try:
        source = folder_source(Path(meta["dataset"]), meta["extract_config"]["limit"], hashes)
    except DataError as err:
        return str(err)
    if source.fingerprint == meta["dataset_fingerprint"]:
        return None
    cached = {}
    for split in meta["splits"]:
        content, skipped_content = cache.contents(paths.cache, split)
        cached |= dict(zip(cache.ids(paths.cache, split), content, strict=True))
        cached |= dict(zip([item for item, _ in cache.skipped(paths.cache, split)], skipped_content, strict=True))
    listed = {item: content for split in source.splits for item, content in zip(split.ids, split.content, strict=True)}
    counts = {
        "added": len(listed.keys() - cached.keys()),
        "removed": len(cached.keys() - listed.keys()),
        "changed": sum(listed[item] != cached[item] for item in listed.keys() & cached.keys()),
    }
    changes = ", ".join(f"{count} {what}" for what, count in counts.items() if count) or "files moved"
    return f"{meta['dataset']} changed since the cache was built ({changes})"


def summary_of(path: Path, status: str) -> Summary:
    meta = cache.info(path)
    names = meta["class_names"]
    return Summary(
        path,
        status,
        [
            SplitSummary(
                name,
                s["rows"],
                cache.skipped(path, name),
                s["warnings"],
                s["extracted"],
                s["run_seconds"],
                [names[i] for i in np.flatnonzero(np.bincount(cache.labels(path, name), minlength=len(names)) == 0)],
            )
            for name, s in meta["splits"].items()
        ],
        meta.get("precision", "float32"),
        meta.get("precision_check"),
    )
