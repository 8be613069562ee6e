"""Some rows of one split of the cache (the fit rows, the scored split), read block by block, so
that a head trains and scores on a cache larger than memory.

A block is a few dozen spans of `cache.store.ROWS_PER_CHUNK` (256) rows, each read whole from its HDF5 chunk.
Shuffled, the spans come in random order and the rows of a block are mixed. The cache stores a
split's rows in a pseudo-random order (`extract.reading.sampling.in_row_order`), so every block is a
random sample of the split: a streaming head sees every class in its share throughout an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import cache
from cache.store import ROWS_PER_CHUNK
from extract.reading.sampling import quotas

SPAN = ROWS_PER_CHUNK
BLOCK_BYTES = 64 * 2**20  # float32 features of one block, every view: the memory a stream holds


@dataclass(frozen=True)
class Part:
    streamed = True  # read from the cache a block at a time (`Loaded`: in memory)
    cache_path: Path
    split: str
    positions: np.ndarray  # the rows' indices in the split, ascending
    labels: np.ndarray  # their labels
    views: int  # features per image: the image, then its augmented views
    dim: int
    layers: tuple[str, ...] | None = None  # the feature blocks read, in the cache's column order (None: all)

    @classmethod
    def whole(cls, cache_path, split: str, layers: tuple[str, ...] | None = None) -> Part:
        labels = cache.labels(cache_path, split)
        with cache.reading(cache_path, split, layers) as split_file:
            views, dim = split_file.views, split_file.dim
        return cls(Path(cache_path), split, np.arange(len(labels)), labels, views, dim, layers)

    def __len__(self) -> int:
        return len(self.positions)

    def subset(self, keep: np.ndarray) -> Part:
        """The rows where the boolean `keep` (one per row of this part) is set."""
        return replace(self, positions=self.positions[keep], labels=self.labels[keep])

    def only(self, layers: tuple[str, ...], blocks: dict[str, int]) -> Part:
        """The same rows with only the feature blocks of `layers` (`blocks`: the cache's {name: width},
        in column order), read from the cache block by block: the others are never read."""
        return replace(self, layers=tuple(layers), dim=sum(blocks[name] for name in layers))

    def sample(self, count: int, seed: int, least: int = 1) -> Part:
        """About `count` of its images drawn at random without replacement, stratified: every class
        in its share, and at least `least` images of each (all of a class that has fewer). So a
        cross-validation on the sample has every class in every fold, however rare."""
        if count >= len(self):
            return self
        rng = np.random.default_rng(seed)
        classes, sizes = np.unique(self.labels, return_counts=True)
        keep = np.zeros(len(self), dtype=bool)
        for label, quota in zip(classes, quotas(count, sizes, least), strict=True):
            keep[rng.choice(np.flatnonzero(self.labels == label), quota, replace=False)] = True
        return self.subset(keep)

    @property
    def nbytes(self) -> int:
        """Its features in memory as float32, every view."""
        return len(self) * self.views * self.dim * 4

    def ids(self) -> list[str]:
        """Its rows' ids, read span by span like the features (not the whole split's)."""
        ids = []
        with cache.reading(self.cache_path, self.split) as split_file:
            for first, end, rows in self._runs(np.unique(self.positions // SPAN)):
                names = split_file.ids(first, end)
                ids += [names[i] for i in self.positions[rows] - first]
        return ids

    def load(self, views: bool = True) -> Loaded:
        """All of it in memory: (N, K, D) features, or with `views` False (N, D), the images as they are."""
        features = np.concatenate([x for x, _ in self.blocks()]) if len(self) else np.zeros((0, self.views, self.dim))
        return Loaded(features if views else features[:, 0], self.labels, self.ids())

    def blocks(self, seed: int | tuple[int, ...] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(features (n, K, D) float32, labels) a block at a time: in the split's order, or with a
        `seed`, spans in random order and rows mixed within each block."""
        spans = np.unique(self.positions // SPAN)
        rng = None if seed is None else np.random.default_rng(seed)
        if rng is not None:
            spans = rng.permutation(spans)
        per_block = max(1, BLOCK_BYTES // (SPAN * self.views * self.dim * 4))
        with cache.reading(self.cache_path, self.split, self.layers) as split_file:
            for start in range(0, len(spans), per_block):
                features, labels = self.read_spans(split_file, np.sort(spans[start : start + per_block]))
                if rng is not None:
                    order = rng.permutation(len(labels))
                    features, labels = features[order], labels[order]
                yield features, labels

    def read_spans(self, split_file: cache.SplitFile, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This part's rows within the (ascending) spans."""
        features, labels = [], []
        for first, end, rows in self._runs(spans):
            read = split_file.read(first, end)
            wanted = self.positions[rows] - first
            features.append((read if len(wanted) == len(read) else read[wanted]).astype(np.float32))
            labels.append(self.labels[rows])
        return np.concatenate(features), np.concatenate(labels)

    def _runs(self, spans: np.ndarray) -> Iterator[tuple[int, int, slice]]:
        """(first row, end row, this part's rows among them as a slice of `positions`) for each run
        of adjacent (ascending) spans: each run is read in one call."""
        if not len(spans):
            return
        for run in np.split(spans, np.flatnonzero(np.diff(spans) != 1) + 1):
            first, end = int(run[0]) * SPAN, (int(run[-1]) + 1) * SPAN
            low, high = np.searchsorted(self.positions, [first, end])
            yield first, end, slice(int(low), int(high))


@dataclass
class Loaded(cache.SplitData):
    """Rows in memory with a `Part`'s interface: one block. So a head reads rows one way, whether
    they came from memory or stream from the cache."""

    streamed = False

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def views(self) -> int:
        return self.features.shape[1] if self.features.ndim == 3 else 1

    @property
    def dim(self) -> int:
        return self.features.shape[-1]

    @property
    def nbytes(self) -> int:
        return len(self) * self.views * self.dim * 4

    def load(self, views: bool = True) -> Loaded:
        return self if views or self.features.ndim == 2 else Loaded(self.features[:, 0], self.labels, self.ids)

    def only(self, layers: tuple[str, ...], blocks: dict[str, int]) -> Loaded:
        """The same rows with only the columns of the feature blocks `layers` (`blocks`: the cache's
        {name: width}, in column order)."""
        return Loaded(self.features[..., columns(layers, blocks)], self.labels, self.ids)

    def blocks(self, seed: int | tuple[int, ...] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Its rows as one block, (n, K, D) float32; with a `seed`, in random order."""
        features = self.features.reshape(len(self), self.views, self.dim).astype(np.float32, copy=False)
        if seed is None:
            yield features, self.labels
            return
        order = np.random.default_rng(seed).permutation(len(self))
        yield features[order], self.labels[order]


def columns(layers: tuple[str, ...], blocks: dict[str, int]) -> np.ndarray:
    """The column indices of the blocks `layers` among all of `blocks` ({name: width}, column order),
    in column order."""
    ends = np.cumsum(list(blocks.values()))
    spans = {name: np.arange(end - width, end) for (name, width), end in zip(blocks.items(), ends, strict=True)}
    return np.concatenate([spans[name] for name in blocks if name in layers])


def every_view(data: cache.SplitData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, image index) with one row per view: (N, K, D) features become N·K rows."""
    count, views, dim = data.features.shape
    return data.features.reshape(-1, dim), np.repeat(data.labels, views), np.repeat(np.arange(count), views)
