"""What every source gives: per split, the ids and labels of its inputs in a fixed order, and where
their bytes are (image files, or a TFDS dataset); and the error a source raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workflow.errors import WorkflowError


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
