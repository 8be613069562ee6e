"""The HDF5 feature cache: the one file every later stage reads.

Layout (format version 6):

    /                      attrs: format_version, complete, fingerprint, class_names (JSON),
                           model, feature_source (JSON: the backbone and the layers pooled,
                           `extract.network.feature_source`), blocks (JSON {name: width}, in column
                           order), weights, weights_sha256, image_size, preprocessing, engine,
                           dtype, views, view_policy, dataset, dataset_fingerprint,
                           versions (JSON), extract_config (JSON)
    /<split>/features/<block>  (N, D_b) float32 or float16, chunked, one dataset per feature
                           block: each image as it is; rows in the source's order
                           (`extract.reading.sampling.in_row_order`: pseudo-random). Readers take the
                           blocks together (concatenated in `blocks` order: (N, sum D_b)) or
                           apart (`blocks=`)
    /<split>/views/<block> (N, views-1, D_b), only where views > 1: its augmented views
    /<split>/labels        (N,) int64
    /<split>/ids           (N,) file names as bytes: relative path or TFDS id (not always UTF-8)
    /<split>/content       (N,) each input's content hash (BLAKE2b of the file; "" for TFDS)
    /<split>/skipped_ids   (M,) inputs that could not be decoded ...
    /<split>/skipped_reasons (M,) ... and why
    /<split>/skipped_content (M,) ... and their content hashes
                           attrs on the group: n_inputs, extracted and run_seconds (by
                           the last run), seconds (extracting every input), warnings
                           (JSON {id: libjpeg's warning} of rows decoded despite
                           damaged data), and sha256_<dataset>
                           for each dataset (`sha256_features:<block>` for a block; features
                           and labels also carry HDF5's
                           fletcher32 checksum on every chunk)

The file is written under a temporary name and renamed into place once complete, and the
`complete` attribute is set last; a file without it is never read as a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from workflow.errors import WorkflowError

# 2: checksums (a sha256 of every dataset; fletcher32 on numeric chunks); 3: content hashes; 4: views;
# 5: a folder's rows in a pseudo-random order by hash of id (any block of rows mixes the classes);
# 6: one dataset per feature block (several layers of the backbone)
FORMAT_VERSION = 6
VERIFY_ROWS = 16384  # rows read at a time by `verify`: bounded memory
SPLIT_ORDER = ("train", "validation", "test")
ROWS_PER_CHUNK = 256
# stored as JSON text
JSON_ATTRS = {"class_names", "versions", "extract_config", "warnings", "precision_check", "feature_source", "blocks"}
_TEXT = h5py.string_dtype("utf-8")
# Ids are file names, which need not be valid UTF-8: stored as their bytes, read back with
# os.fsdecode (undecodable bytes become surrogate escapes, PEP 383), so every name round-trips.
_NAME = h5py.string_dtype("ascii")


class CacheError(WorkflowError):
    """A feature cache is missing, incomplete or not what the caller expects."""


@dataclass
class SplitData:
    features: np.ndarray
    labels: np.ndarray
    ids: list[str]


# What h5py and the JSON attributes raise on a damaged file: a bad signature, a failed
# checksum, a missing dataset or attribute, undecodable text.
DAMAGE = (OSError, KeyError, ValueError, RuntimeError, TypeError, UnicodeDecodeError)


@contextmanager
def _open(path: str | os.PathLike):
    """The open cache, read-only. Anything h5py raises inside the block, from opening the file to
    a chunk whose checksum fails, becomes one `CacheError`."""
    path = Path(path)
    if not path.exists():
        raise CacheError(f"no feature cache at {path}: run `make features` first")
    try:
        with h5py.File(path, "r") as handle:
            if not handle.attrs.get("complete", False):
                raise CacheError(f"{path} is from an interrupted run: run `make features` again")
            version = handle.attrs.get("format_version")
            if version != FORMAT_VERSION:
                raise CacheError(
                    f"{path} has format {version}, not {FORMAT_VERSION}: run `make features`, which rebuilds it"
                )
            yield handle
    except DAMAGE as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise CacheError(
            f"{path} is not a readable feature cache, or is damaged ({reason}): run `make features`, which rebuilds it"
        ) from err


def verify(path: str | os.PathLike) -> None:
    """Read every stored value and compare each dataset's sha256 with the one recorded when the
    cache was written (HDF5 checks the numeric chunks' fletcher32 on the way); `CacheError` if any
    differs."""
    with _open(path) as handle:
        for name, group in _ordered_splits(handle):
            for dataset_name, dataset in _datasets(group):
                if _sha256(dataset) != _plain(group.attrs.get(f"sha256_{dataset_name}")):
                    raise CacheError(
                        f"{path} is damaged ({name}/{dataset_name} does not match its checksum): "
                        "run `make features`, which rebuilds it"
                    )


def _sha256(dataset: h5py.Dataset) -> str:
    """sha256 of a dataset's values, read VERIFY_ROWS rows at a time."""
    digest = hashlib.sha256()
    for start in range(0, dataset.shape[0], VERIFY_ROWS):
        rows = dataset[start : start + VERIFY_ROWS]
        digest.update(b"\0".join(rows.tolist()) if rows.dtype == object else np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()


def _datasets(group: h5py.Group):
    """(name, dataset) of every dataset of a split, a block's named `features:<block>`."""
    for name, item in group.items():
        if isinstance(item, h5py.Group):
            yield from ((f"{name}:{block}", dataset) for block, dataset in item.items())
        else:
            yield name, item


def info(path: str | os.PathLike) -> dict:
    """File attributes (class names, versions, the feature-source record and the blocks {name:
    width} decoded), plus per-split counts."""
    with _open(path) as handle:
        attrs = {key: _plain(value) for key, value in handle.attrs.items()}
        for key in JSON_ATTRS.intersection(attrs):
            attrs[key] = json.loads(attrs[key])
        attrs["splits"] = {
            name: {
                "rows": int(group["labels"].shape[0]),
                "skipped": int(group["skipped_ids"].shape[0]),
                **{
                    key: json.loads(value) if key in JSON_ATTRS else _plain(value)
                    for key, value in group.attrs.items()
                    if not key.startswith("sha256_")
                },
            }
            for name, group in _ordered_splits(handle)
        }
    return attrs


def splits(path: str | os.PathLike) -> list[str]:
    """Split names in the cache, train first."""
    with _open(path) as handle:
        return [name for name, _ in _ordered_splits(handle)]


def read_split(path: str | os.PathLike, split: str, views: bool = False, blocks: list[str] | None = None) -> SplitData:
    """Features, labels and ids of one split. Features are (N, D), one row per image as it is, the
    `blocks` named (default all) concatenated in the cache's order; with `views`, (N, K, D): the
    image, then its K - 1 augmented views."""
    with reading(path, split, blocks) as split_file:
        features = split_file.read(0, split_file.rows)
        group = split_file.group
        return SplitData(features=features if views else features[:, 0], labels=group["labels"][...], ids=_ids(group))


def ids(path: str | os.PathLike, split: str) -> list[str]:
    """The ids of one split alone, without reading its features."""
    with _open(path) as handle:
        return _ids(_split(handle, path, split))


def labels(path: str | os.PathLike, split: str) -> np.ndarray:
    """The labels of one split alone, without reading its features."""
    with _open(path) as handle:
        return _split(handle, path, split)["labels"][...]


def _split(handle: h5py.File, path, split: str) -> h5py.Group:
    if split not in handle:
        raise CacheError(f"{path} has no split {split!r}; it has {list(handle.keys())}")
    return handle[split]


def _ids(group: h5py.Group) -> list[str]:
    return [os.fsdecode(item) for item in group["ids"][...]]


def contents(path: str | os.PathLike, split: str) -> tuple[list[str], list[str]]:
    """The content hashes of one split's rows, and of its skipped inputs."""
    with _open(path) as handle:
        group = _split(handle, path, split)
        return [item.decode() for item in group["content"][...]], [
            item.decode() for item in group["skipped_content"][...]
        ]


class SplitFile:
    """One split of an open cache, read a range of rows at a time: for splits larger than memory.
    `blocks`: the feature blocks read, concatenated in the cache's order (default all)."""

    def __init__(self, group: h5py.Group, blocks: list[str] | None = None):
        self.group = group
        stored = list(group["features"])  # h5py lists a group's members by name: the cache's order is `blocks`
        order = list(json.loads(group.file.attrs["blocks"]))
        unknown = sorted(set(blocks or []) - set(stored))
        if unknown:
            raise CacheError(f"the cache has no feature block {', '.join(unknown)}; it has {', '.join(order)}")
        self.blocks = [name for name in order if blocks is None or name in blocks]
        self._features = [group["features"][name] for name in self.blocks]
        self._views = [group["views"][name] for name in self.blocks] if "views" in group else None
        self._ids = group["ids"]
        self.rows = self._features[0].shape[0]
        self.widths = {name: dataset.shape[1] for name, dataset in zip(self.blocks, self._features, strict=True)}
        self.dim = sum(self.widths.values())
        self.dtype = self._features[0].dtype
        self.views = 1 + (self._views[0].shape[1] if self._views is not None else 0)

    def ids(self, start: int, stop: int) -> list[str]:
        return [os.fsdecode(item) for item in self._ids[start:stop]]

    def read(self, start: int, stop: int) -> np.ndarray:
        """(n, K, D) in the stored dtype: rows start..stop, each image then its views."""
        picked = np.concatenate([features[start:stop] for features in self._features], axis=1)[:, None]
        if self._views is not None:
            views = np.concatenate([views[start:stop] for views in self._views], axis=2)
            picked = np.concatenate([picked, views], axis=1)
        return picked


@contextmanager
def reading(path: str | os.PathLike, split: str, blocks: list[str] | None = None):
    """`with cache.reading(path, "train") as rows: rows.read(0, 4096)`: a damaged chunk met while
    reading raises `CacheError`, as every other read does. `blocks`: as `SplitFile`'s."""
    with _open(path) as handle:
        yield SplitFile(_split(handle, path, split), blocks)


def read_rows(path: str | os.PathLike, split: str, rows: np.ndarray, blocks: list[str] | None = None) -> np.ndarray:
    """(n, K, D): the features of the given rows of one split, in the order given, with their views."""
    rows = np.asarray(rows, dtype=np.int64)
    with reading(path, split, blocks) as split_file:
        if not len(rows):
            return np.zeros((0, split_file.views, split_file.dim), split_file.dtype)
        low, high = int(rows.min()), int(rows.max())
        return split_file.read(low, high + 1)[rows - low]  # one slice: the rows wanted are mostly contiguous


def load(
    path: str | os.PathLike, split: str, views: bool = False, blocks: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`X, y = cache.load("artifacts/features.h5", "train")`; `views=True`: X is (N, K, D)."""
    data = read_split(path, split, views, blocks)
    return data.features, data.labels


def skipped(path: str | os.PathLike, split: str) -> list[tuple[str, str]]:
    """(id, reason) for each input of a split that could not be used."""
    with _open(path) as handle:
        group = handle[split]
        return [
            (os.fsdecode(item), reason.decode())
            for item, reason in zip(group["skipped_ids"][...], group["skipped_reasons"][...], strict=True)
        ]


class CacheWriter:
    """Streams splits into a new cache file; `close()` marks it complete and renames it into place.
    `blocks`: {name: width} of the feature blocks (a backbone's layers), in column order; rows are
    appended with every block's columns concatenated."""

    def __init__(self, path: str | os.PathLike, attrs: dict, blocks: dict[str, int], dtype: str, views: int = 1):
        self.path = Path(path)
        self._views = views
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._handle = h5py.File(self._tmp, "w")
        self._blocks = dict(blocks)
        self._dtype = np.dtype(dtype)
        for key, value in (attrs | {"blocks": self._blocks}).items():
            self._handle.attrs[key] = json.dumps(value) if isinstance(value, (list, dict)) else value
        self._handle.attrs["format_version"] = FORMAT_VERSION
        self._handle.attrs["complete"] = False

    def add_split(self, split: str) -> None:
        group = self._handle.create_group(split)
        chunk_rows = ROWS_PER_CHUNK
        for name, width in self._blocks.items():
            group.create_dataset(
                f"features/{name}",
                fletcher32=True,
                shape=(0, width),
                maxshape=(None, width),
                dtype=self._dtype,
                chunks=(chunk_rows, width),
            )
            if self._views > 1:
                extra = self._views - 1
                group.create_dataset(
                    f"views/{name}",
                    fletcher32=True,
                    shape=(0, extra, width),
                    maxshape=(None, extra, width),
                    dtype=self._dtype,
                    chunks=(max(1, chunk_rows // extra), extra, width),
                )
        group.create_dataset(
            "labels", fletcher32=True, shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(chunk_rows,)
        )
        for name, kind in (
            ("ids", _NAME),
            ("content", _NAME),
            ("skipped_ids", _NAME),
            ("skipped_reasons", _TEXT),
            ("skipped_content", _NAME),
        ):
            group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=kind, chunks=(chunk_rows,))

    def append(
        self,
        split: str,
        features,
        labels,
        ids,
        skipped_ids,
        skipped_reasons,
        content=None,
        skipped_content=None,
        views=None,
    ) -> None:
        """Rows, then inputs left out; content hashes default to "" (unknown); `views` (n, K-1, D)
        where the cache has them."""
        group = self._handle[split]
        features = np.asarray(features, dtype=self._dtype)
        if features.shape[-1] != sum(self._blocks.values()):
            raise ValueError(f"rows of {features.shape[-1]} values, not the blocks' {sum(self._blocks.values())}")
        views = np.asarray(views, dtype=self._dtype) if self._views > 1 else None
        start = 0
        for name, width in self._blocks.items():
            _append(group[f"features/{name}"], features[:, start : start + width])
            if views is not None:
                _append(group[f"views/{name}"], views[..., start : start + width])
            start += width
        _append(group["labels"], np.asarray(labels, dtype=np.int64))
        _append(group["ids"], np.asarray([os.fsencode(item) for item in ids], dtype=object))
        _append(group["content"], _hashes(content, len(ids)))
        _append(group["skipped_ids"], np.asarray([os.fsencode(item) for item in skipped_ids], dtype=object))
        _append(group["skipped_reasons"], np.asarray(skipped_reasons, dtype=object))
        _append(group["skipped_content"], _hashes(skipped_content, len(skipped_ids)))

    def set_split_attrs(self, split: str, **attrs) -> None:
        self._handle[split].attrs.update(attrs)

    def close(self) -> Path:
        for _, group in _ordered_splits(self._handle):
            for name, dataset in _datasets(group):
                group.attrs[f"sha256_{name}"] = _sha256(dataset)
        self._handle.attrs["complete"] = True
        self._handle.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._handle.close()
        self._tmp.unlink(missing_ok=True)


def _hashes(hashes: list[str] | None, count: int) -> np.ndarray:
    return np.asarray([item.encode() for item in hashes] if hashes is not None else [b""] * count, dtype=object)


def _append(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    if len(rows) == 0:
        return
    start = dataset.shape[0]
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows


def _ordered_splits(handle: h5py.File):
    names = sorted(handle.keys(), key=lambda n: (SPLIT_ORDER.index(n) if n in SPLIT_ORDER else 99, n))
    return [(name, handle[name]) for name in names]


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
