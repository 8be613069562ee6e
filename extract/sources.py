"""Where images come from: a folder of class folders, or a TFDS dataset.

Every source gives, per split, the ids and labels of its inputs in a fixed order (a folder's in
a pseudo-random order by hash of id, `in_row_order`; TFDS's as TFDS generated it, shuffled
already), and where their bytes are: image files, or a TFDS dataset. Reading them is `extract.pipeline`'s job.
Listing a folder needs no TensorFlow, so an up-to-date check never imports it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extract.hashes import ContentHashes
from extract.identity import digest
from workflow.errors import WorkflowError

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
HASH_SPLIT = (("train", 80), ("validation", 90), ("test", 100))  # cumulative percent
TFDS_SPLITS = {"train": "train[:80%]", "validation": "train[80%:90%]", "test": "train[90%:]"}


class DataError(WorkflowError):
    """The data cannot be used: missing folder, no classes, an empty split, TFDS unreachable."""


@dataclass
class Split:
    name: str
    ids: list[str]
    labels: np.ndarray
    paths: list[str] | None = field(default=None, repr=False)  # image files, in order (folder sources)
    dataset: Any = field(default=None, repr=False)  # tf.data.Dataset of encoded images (TFDS sources)
    content: list[str] | None = field(default=None, repr=False)  # each file's content hash (folder sources)

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, position: int) -> bytes:
        """One input's encoded bytes; OSError for a file that cannot be read."""
        if self.paths is None:
            return next(iter(self.dataset.skip(position).take(1))).numpy()
        return Path(self.paths[position]).read_bytes()

    def subset(self, positions: list[int]) -> Split:
        """The inputs at `positions`, in that order (folder sources)."""
        return Split(
            self.name,
            [self.ids[i] for i in positions],
            self.labels[np.asarray(positions, dtype=np.int64)],
            paths=[self.paths[i] for i in positions],
            content=[self.content[i] for i in positions],
        )


@dataclass
class Source:
    description: str
    class_names: list[str]
    splits: list[Split]
    fingerprint: str


def open_source(
    data: str, limit: int | None = None, tfds_data_dir: str | None = None, hashes: ContentHashes | None = None
) -> Source:
    """`tfds:<name>` or a folder path; `hashes` (the cache's index) spares re-reading unchanged files."""
    if data.startswith("tfds:"):
        return tfds_source(data.removeprefix("tfds:"), limit, tfds_data_dir)
    return folder_source(Path(data), limit, hashes)


# --- folders -------------------------------------------------------------------------------


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
        keep.update(
            sorted((file.id for file in group), key=lambda item: hashlib.sha256(name_bytes(item)).digest())[:quota]
        )
    return [file for file in files if file.id in keep]


def quotas(total: int, sizes: np.ndarray, least: int = 1) -> np.ndarray:
    """How many of each class a stratified sample of about `total` takes: at least `least` of each
    (all of a class with fewer), the rest in proportion to the sizes (largest remainders)."""
    floor = np.minimum(sizes, least)
    rest, room = max(0, total - int(floor.sum())), sizes - floor
    exact = rest * room / max(1, room.sum())
    shares = np.floor(exact).astype(np.int64)
    shares[np.argsort(shares - exact, kind="stable")[: rest - int(shares.sum())]] += 1
    return floor + np.minimum(shares, room)


def in_row_order(items: list, key: Callable = lambda item: item) -> list:
    """`items` in the order a split's rows are stored: a fixed pseudo-random order by a hash of each
    id, so that any contiguous run of rows (a block a streaming head reads, a shard) is a random
    sample of the split. The listing puts each class's files together, and a reader that took
    blocks of it would see one class at a time. Salted, so it is independent of the 80/10/10
    split, `LIMIT` and dev, which rank the same ids by their sha256; an added file takes its own
    place and moves no other."""
    return sorted(items, key=lambda item: hashlib.blake2b(name_bytes(key(item)), person=b"row order").digest())


def _folder_split(name: str, files: list[File], class_names: list[str], hashes: ContentHashes) -> Split:
    index = {cls: label for label, cls in enumerate(class_names)}
    return Split(
        name,
        ids=[file.id for file in files],
        labels=np.array([index[file.label] for file in files], dtype=np.int64),
        paths=[file.path for file in files],
        content=[hashes.of(file.path) for file in files],
    )


def name_bytes(name: str) -> bytes:
    """A file name's own bytes: names that are not valid UTF-8 arrive surrogate-escaped (PEP 383)."""
    return name.encode("utf-8", "surrogateescape")


# --- TFDS ----------------------------------------------------------------------------------


def tfds_source(name: str, limit: int | None = None, data_dir: str | None = None) -> Source:
    """The tutorial's split of a TFDS dataset's train split: first 80% train, 10% validation, 10% test."""
    import tensorflow_datasets as tfds

    from extract.online import require_network

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            require_network(f"TFDS dataset {name!r}", "pass DATA=<folder of class folders>")
        builder.download_and_prepare()
    except WorkflowError:
        raise
    except Exception as err:  # TFDS raises many kinds: network, missing dataset, checksums
        raise DataError(
            f"could not load TFDS dataset {name!r} ({type(err).__name__}); "
            "without internet, pass DATA=<folder of class folders>"
        ) from err
    class_names = list(builder.info.features["label"].names)
    splits = []
    for split_name, spec in TFDS_SPLITS.items():
        dataset = builder.as_dataset(split=spec, decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False)
        if limit is not None:
            dataset = dataset.take(limit)
        splits.append(_tfds_split(split_name, dataset))
        if not len(splits[-1]):
            raise DataError(f"split {split_name!r} of TFDS {name!r} is empty")
    return Source(
        description=f"tfds:{name}",
        class_names=class_names,
        splits=splits,
        fingerprint=digest([name, str(builder.version), TFDS_SPLITS, limit] + [s.ids for s in splits]),
    )


def _tfds_split(name: str, dataset) -> Split:
    meta = dataset.map(lambda ex: (ex["image/filename"], ex["label"]))
    ids, labels = [], []
    for filename, label in meta.as_numpy_iterator():
        ids.append(filename.decode())
        labels.append(int(label))
    return Split(name, ids, np.array(labels, dtype=np.int64), dataset=dataset.map(lambda ex: ex["image"]))


def cheap_fingerprint(
    data: str, limit: int | None = None, tfds_data_dir: str | None = None, hashes: ContentHashes | None = None
) -> str:
    """A fingerprint that changes whenever the source's does, computed without TensorFlow.

    A folder's is its own fingerprint (listing and content hashes, from `hashes` where files are
    unchanged). A TFDS dataset's covers the
    sizes and modification times of every file TFDS prepared for it (TFDS's default data folder
    unless `tfds_data_dir`); it stays unchanged only while those do."""
    if not data.startswith("tfds:"):
        return folder_source(Path(data), limit, hashes).fingerprint
    name = data.removeprefix("tfds:")
    root = Path(tfds_data_dir or os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets") / name
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return digest(
        [data, limit, [(p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files]]
    )
