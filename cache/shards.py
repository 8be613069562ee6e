"""Work in progress of a cache build: one small file per finished shard of each split.

HDF5 is not safe against a process killed mid-write, so an extraction run never writes the
cache file itself until all work is done. It writes each finished shard (a fixed range of
input positions) to its own .npz under a temporary name and renames it into place; a killed
run leaves only whole shards behind. The next run with the same fingerprint resumes after
the last whole shard; a different fingerprint starts afresh.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cache.atomic import atomic_path, write_text

FORMAT = 2  # 2: suspects instead of a warned flag; another format's shards are not read


@dataclass
class Shard:
    positions: np.ndarray  # of the rows in their split, ascending
    features: np.ndarray  # (n, views, D): each image, then its augmented views
    skipped_reasons: list[str]  # of the shard's other positions, ascending
    seconds: float
    # positions whose decoding may have printed a libjpeg warning (it names no file)
    suspects: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class ShardStore:
    def __init__(self, directory: str | os.PathLike, fingerprint: str | None = None):
        """The store of `fingerprint`'s work, emptied if it held another's; None: the store as it is
        (a cluster worker writing into the client's)."""
        self.directory = Path(directory)
        if fingerprint is None:
            return
        manifest = self.directory / "manifest.json"
        mine = {"fingerprint": fingerprint, "format": FORMAT}
        if manifest.exists() and json.loads(manifest.read_text()) != mine:
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            write_text(manifest, json.dumps(mine))

    def _path(self, split: str, index: int) -> Path:
        return self.directory / split / f"shard-{index:06d}.npz"

    def done(self, split: str) -> int:
        """Number of leading shards of `split` already written."""
        count = 0
        while self._path(split, count).exists():
            count += 1
        return count

    def write(self, split: str, index: int, shard: Shard) -> None:
        with atomic_path(self._path(split, index)) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                positions=np.asarray(shard.positions, dtype=np.int64),
                features=shard.features,
                skipped_reasons=np.asarray(shard.skipped_reasons, dtype=str),
                seconds=np.float64(shard.seconds),
                suspects=np.asarray(shard.suspects, dtype=np.int64),
            )

    def read(self, split: str, index: int) -> Shard:
        with np.load(self._path(split, index)) as data:
            return Shard(
                positions=data["positions"],
                features=data["features"],
                skipped_reasons=data["skipped_reasons"].tolist(),
                seconds=float(data["seconds"]),
                suspects=data["suspects"],
            )

    def has(self, split: str, index: int) -> bool:
        return self._path(split, index).exists()

    def seconds(self, split: str) -> float:
        """The extraction time of `split`'s finished shards (reads no features)."""
        total = 0.0
        for index in range(self.done(split)):
            with np.load(self._path(split, index)) as data:
                total += float(data["seconds"])
        return total

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
