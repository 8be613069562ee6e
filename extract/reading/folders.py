"""The folder reader: a folder of class folders, or of split folders (train/, validation/ or val/,
test/) of class folders, listed without TensorFlow, so an up-to-date check never imports it.

A split's files are in a pseudo-random order by hash of id (`sampling.in_row_order`); class folders
alone are split 80/10/10 by a hash of each file's path, and `LIMIT` keeps a stable, stratified
subset. The fingerprint covers every file's path, label and content hash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extract.reading.hashes import ContentHashes, digest
from extract.reading.sampling import hash_order, in_row_order, name_bytes, quotas
from extract.reading.split import DataError, Source, Split

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
HASH_SPLIT = (("train", 80), ("validation", 90), ("test", 100))  # cumulative percent


def folder_source(root: Path, limit: int | None = None, hashes: ContentHashes | None = None) -> Source:
    """The splits of a folder; its fingerprint covers every file's path, label and content hash."""
    hashes = hashes or ContentHashes()
    if not root.is_dir():
        raise DataError(f"no such folder: {root}")
    subfolders = _visible_dirs(root)
    split_folders = {SPLIT_FOLDERS[d.name]: d for d in subfolders if d.name in SPLIT_FOLDERS}
    if split_folders:
        class_names, files_by_split = _files_of_split_folders(root, split_folders)
    else:
        class_names, files_by_split = [d.name for d in subfolders], _hash_split(root, subfolders)
    if len(class_names) < 2:
        raise DataError(f"{root} needs at least two class folders, found {class_names}")
    splits = []
    for name in ("train", "validation", "test"):
        if name not in files_by_split:
            continue
        files = _limit(files_by_split[name], limit)
        if not files:
            raise DataError(f"split {name!r} of {root} has no image files")
        splits.append(_folder_split(name, in_row_order(files, key=lambda item: item.id), class_names, hashes))
    return Source(
        description=str(root),
        class_names=class_names,
        splits=splits,
        fingerprint=digest([(s.name, s.ids, s.labels.tolist(), s.content) for s in splits]),
    )


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass
class File:
    label: str  # its class folder's name
    id: str  # its path relative to the data folder, '/'-separated
    path: str


def _class_files(root: Path, class_dir: Path) -> list[File]:
    """Every visible file below a class folder, sorted by path: non-images, broken links and links to
    folders are kept, to be reported as skipped."""
    start, prefix = len(str(class_dir)) + 1, class_dir.relative_to(root).as_posix()
    ordered = sorted(_walk(str(class_dir)), key=lambda path: path[start:].split(os.sep))  # as pathlib sorts
    return [File(class_dir.name, f"{prefix}/{path[start:]}", path) for path in ordered]


def _walk(folder: str) -> Iterator[str]:
    """Paths below `folder`, hidden ones left out; strings and scandir, since listing 25,000 files
    through pathlib took seconds."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif entry.is_file() or entry.is_symlink():
                yield entry.path


def _files_of_split_folders(root: Path, split_folders: dict[str, Path]) -> tuple[list[str], dict[str, list]]:
    """Class names from train/'s class folders, and the files of each split."""
    if "train" not in split_folders:
        raise DataError(f"{root} has {sorted(split_folders)} folders but no train/")
    train_classes = [d.name for d in _visible_dirs(split_folders["train"])]
    files_by_split = {}
    for name, folder in split_folders.items():
        classes = _visible_dirs(folder)
        unknown = {d.name for d in classes} - set(train_classes)
        if unknown:
            raise DataError(f"{folder} has classes that train/ lacks: {sorted(unknown)}")
        files_by_split[name] = [item for d in classes for item in _class_files(root, d)]
    return train_classes, files_by_split


def _hash_split(root: Path, class_dirs: list[Path]) -> dict[str, list]:
    """Deterministic 80/10/10 by a hash of each file's relative path: adding files moves none."""
    files_by_split = {name: [] for name, _ in HASH_SPLIT}
    for class_dir in class_dirs:
        for file in _class_files(root, class_dir):
            bucket = _bucket(file.id)
            name = next(name for name, upper in HASH_SPLIT if bucket < upper)
            files_by_split[name].append(file)
    return files_by_split


def _bucket(key: str) -> int:
    return int(hashlib.sha256(name_bytes(key)).hexdigest()[:8], 16) % 100


LIMIT_LEAST = 5  # images of each class a LIMIT keeps (all of a rarer one): a cross-validation's worth


def _limit(files: list[File], limit: int | None) -> list[File]:
    """A stable, stratified subset: of each class, its share of `limit` (at least LIMIT_LEAST) with
    the lowest hash of id, in their own order."""
    if limit is None or limit >= len(files):
        return files
    classes = sorted({file.label for file in files})
    members = [[file for file in files if file.label == name] for name in classes]
    keep = set()
    for group, quota in zip(members, quotas(limit, np.array([len(g) for g in members]), LIMIT_LEAST), strict=True):
        keep.update(group[i].id for i in hash_order([file.id for file in group])[:quota])
    return [file for file in files if file.id in keep]


def _folder_split(name: str, files: list[File], class_names: list[str], hashes: ContentHashes) -> Split:
    index = {cls: label for label, cls in enumerate(class_names)}
    return Split(
        name,
        ids=[file.id for file in files],
        labels=np.array([index[file.label] for file in files], dtype=np.int64),
        paths=[file.path for file in files],
        content=[hashes.of(file.path) for file in files],
    )
