"""Where images come from: a folder of class folders, or a TFDS dataset.

Every source gives, per split, the ids and labels of its inputs in a fixed order and a
tf.data pipeline of (position, encoded bytes) from any position onwards, so a resumed run
can start where the last one stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

SPLIT_FOLDERS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
HASH_SPLIT = (("train", 80), ("validation", 90), ("test", 100))  # cumulative percent
TFDS_SPLITS = {"train": "train[:80%]", "validation": "train[80%:90%]", "test": "train[90%:]"}


class DataError(Exception):
    """The data cannot be used: missing folder, no classes, an empty split, TFDS unreachable."""


@dataclass
class Split:
    name: str
    ids: list[str]
    labels: np.ndarray
    # (start position) -> tf.data.Dataset of (position, encoded bytes)
    elements: Callable[[int], tf.data.Dataset] = field(repr=False)
    # (position) -> encoded bytes, to explain a failure; raises OSError for an unreadable file
    read: Callable[[int], bytes] = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Source:
    description: str
    class_names: list[str]
    splits: list[Split]
    fingerprint: str


def open_source(data: str, limit: int | None = None, tfds_data_dir: str | None = None) -> Source:
    """`tfds:<name>` or a folder path."""
    if data.startswith("tfds:"):
        return tfds_source(data.removeprefix("tfds:"), limit, tfds_data_dir)
    return folder_source(Path(data), limit)


# --- folders -------------------------------------------------------------------------------

def folder_source(root: Path, limit: int | None = None) -> Source:
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
        files = _limit(files_by_split[name], limit, key=lambda item: item[1].relative_to(root).as_posix())
        if not files:
            raise DataError(f"split {name!r} of {root} has no image files")
        splits.append(_folder_split(name, root, files, class_names))
    return Source(
        description=str(root),
        class_names=class_names,
        splits=splits,
        fingerprint=_hash([(s.name, s.ids, s.labels.tolist(), _stats(root, s.ids)) for s in splits]),
    )


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_files(class_dir: Path) -> list[tuple[str, Path]]:
    """Every visible file below a class folder: non-images are kept, to be reported as skipped."""
    return [
        (class_dir.name, path)
        for path in sorted(class_dir.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(class_dir).parts)
    ]


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
        files_by_split[name] = [item for d in classes for item in _class_files(d)]
    return train_classes, files_by_split


def _hash_split(root: Path, class_dirs: list[Path]) -> dict[str, list]:
    """Deterministic 80/10/10 by a hash of each file's relative path: adding files moves none."""
    files_by_split = {name: [] for name, _ in HASH_SPLIT}
    for class_dir in class_dirs:
        for cls, path in _class_files(class_dir):
            bucket = _bucket(path.relative_to(root).as_posix())
            name = next(name for name, upper in HASH_SPLIT if bucket < upper)
            files_by_split[name].append((cls, path))
    return files_by_split


def _bucket(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


def _limit(items: list, limit: int | None, key: Callable) -> list:
    """A stable, class-mixed subset: the `limit` items with the lowest hash, in their own order."""
    if limit is None or limit >= len(items):
        return items
    keep = set(sorted(range(len(items)), key=lambda i: hashlib.sha256(key(items[i]).encode()).digest())[:limit])
    return [item for i, item in enumerate(items) if i in keep]


def _folder_split(name: str, root: Path, files: list, class_names: list[str]) -> Split:
    return file_split(
        name,
        paths=[str(path) for _, path in files],
        ids=[path.relative_to(root).as_posix() for _, path in files],
        labels=np.array([class_names.index(cls) for cls, _ in files], dtype=np.int64),
    )


def file_split(name: str, paths: list[str], ids: list[str], labels: np.ndarray) -> Split:
    """A split of image files, read in the order given."""

    def elements(start: int) -> tf.data.Dataset:
        positions = tf.data.Dataset.range(start, len(paths))
        return tf.data.Dataset.zip(positions, tf.data.Dataset.from_tensor_slices(paths[start:])).map(
            lambda position, path: (position, tf.io.read_file(path)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    return Split(name, ids, labels, elements, read=lambda position: Path(paths[position]).read_bytes())


def _stats(root: Path, ids: list[str]) -> list[tuple[int, int]]:
    """Size and modification time of each file: a changed file changes the fingerprint."""
    stats = [(root / item).stat() for item in ids]
    return [(s.st_size, s.st_mtime_ns) for s in stats]


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# --- TFDS ----------------------------------------------------------------------------------

def tfds_source(name: str, limit: int | None = None, data_dir: str | None = None) -> Source:
    """The tutorial's split of a TFDS dataset's train split: first 80% train, 10% validation, 10% test."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare()
    except Exception as err:  # TFDS raises many kinds: network, missing dataset, checksums
        raise DataError(
            f"could not load TFDS dataset {name!r} ({type(err).__name__}); "
            "without internet, pass DATA=<folder of class folders>"
        ) from err
    class_names = list(builder.info.features["label"].names)
    splits = []
    for split_name, spec in TFDS_SPLITS.items():
        dataset = builder.as_dataset(
            split=spec, decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False
        )
        if limit is not None:
            dataset = dataset.take(limit)
        splits.append(_tfds_split(split_name, dataset))
        if not len(splits[-1]):
            raise DataError(f"split {split_name!r} of TFDS {name!r} is empty")
    return Source(
        description=f"tfds:{name}",
        class_names=class_names,
        splits=splits,
        fingerprint=_hash([name, str(builder.version), TFDS_SPLITS, limit] + [s.ids for s in splits]),
    )


def _tfds_split(name: str, dataset: tf.data.Dataset) -> Split:
    meta = dataset.map(lambda ex: (ex["image/filename"], ex["label"]))
    ids, labels = [], []
    for filename, label in meta.as_numpy_iterator():
        ids.append(filename.decode())
        labels.append(int(label))
    images = dataset.map(lambda ex: ex["image"])

    def elements(start: int) -> tf.data.Dataset:
        return tf.data.Dataset.zip(tf.data.Dataset.range(start, len(ids)), images.skip(start))

    def read(position: int) -> bytes:
        return next(iter(images.skip(position).take(1))).numpy()

    return Split(name, ids, np.array(labels, dtype=np.int64), elements, read)
