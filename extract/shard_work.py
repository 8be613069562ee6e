"""One unit of extraction: a shard, a fixed range of a split's input positions, through the
decode pipeline and the engine into a `Shard`.

The local runner (`extract.local`) runs every missing shard in one process; the Dask runner
(`extract.cluster`) runs one task per shard. Both call `extract_shards`, so a cluster writes
the shards one process writes; `extract.extraction` orchestrates and assembles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from cache.shards import Shard
from extract import engines, identity, native_log
from extract.config import ExtractConfig
from extract.pipeline import batches, why_skipped
from extract.sources import Split


def all_shards(split: Split, shard_size: int) -> list[int]:
    return list(range(-(-len(split) // shard_size)))


def missing_shards(split: Split, store, shard_size: int) -> list[int]:
    return [index for index in all_shards(split, shard_size) if not store.has(split.name, index)]


def shard_range(split: Split, index: int, shard_size: int) -> range:
    return range(index * shard_size, min((index + 1) * shard_size, len(split)))


def extract_shards(split: Split, indices: list[int], engine, config: ExtractConfig) -> Iterator[tuple[int, Shard]]:
    """(index, shard) for the shards `indices` of a split, in order, each as soon as it is done.
    Consecutive shards share one input pipeline, which decodes ahead across their boundary; so a
    libjpeg warning that shows while a shard finishes marks it and the next one (which file's is
    found at assembly)."""
    size = config.shard_size
    overlap = engines.runs_on_gpu(engine.name)
    for run in _consecutive(indices):
        current, carried = run[0], False
        kept: list[tuple[np.ndarray, np.ndarray]] = []
        started = time.perf_counter()

        def finished() -> Shard:
            nonlocal current, carried, kept, started
            warned = bool(log.libjpeg_warnings())
            shard = _shard(split, current, kept, config, time.perf_counter() - started, warned or carried)
            current, carried, kept, started = current + 1, warned, [], time.perf_counter()
            return shard

        with native_log.captured() as log:
            start, stop = run[0] * size, shard_range(split, run[-1], size).stop
            inputs = batches(
                split, start, config.image_size, config.batch, overlap, config.views, config.view_policy, stop
            )
            for positions, batch in inputs:
                features = _features(engine, batch, config.batch, config.views)
                while len(positions) and positions[-1] >= shard_range(split, current, size).stop:
                    inside = positions < shard_range(split, current, size).stop
                    kept.append((positions[inside], features[inside]))
                    positions, features = positions[~inside], features[~inside]
                    yield current, finished()
                kept.append((positions, features))
            while current <= run[-1]:
                yield current, finished()


def inputs_of(split: Split, index: int, shard_size: int) -> Split:
    """The inputs of one shard of a folder split, and nothing else: what a cluster task carries,
    so that it needs no data a dead worker held."""
    return split.subset(list(shard_range(split, index, shard_size)))


def extract_carried(inputs: Split, index: int, engine, config: ExtractConfig) -> Shard:
    """Shard `index` from `inputs_of` it: the one shard of `inputs`, at its positions in the split."""
    ((_, shard),) = extract_shards(inputs, [0], engine, replace(config, shard_size=max(1, len(inputs))))
    return replace(shard, positions=shard.positions + index * config.shard_size)


def _consecutive(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _shard(split: Split, index: int, kept: list, config: ExtractConfig, seconds: float, warned: bool) -> Shard:
    """A shard from the (positions, features) its inputs gave; the inputs that gave none were skipped."""
    positions = np.concatenate([np.zeros(0, np.int64)] + [p for p, _ in kept])
    features = np.concatenate([np.zeros((0, config.views, identity.FEATURE_DIM))] + [f for _, f in kept])
    missing = sorted(set(shard_range(split, index, config.shard_size)) - set(positions.tolist()))
    return Shard(
        positions=positions,
        features=features.astype(config.dtype),
        skipped_reasons=[why_skipped(split, i, config.image_size) for i in missing],
        seconds=seconds,
        warned=warned,
    )


def _features(engine, batch: np.ndarray, batch_size: int, views: int) -> np.ndarray:
    """(B, views, D) features of a batch of inputs, (B, views, size, size, 3) or (B, size, size, 3),
    through the engine `batch_size` images at a time."""
    images = batch.reshape(-1, *batch.shape[-3:])
    features = np.concatenate([engine(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    return features.reshape(len(batch), views, -1)
