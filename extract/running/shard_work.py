"""One unit of extraction: a shard, a fixed range of a split's input positions, through the
decode pipeline and the engine into a `Shard`.

The local runner (`extract.running.local`) runs every missing shard in one process; the Dask runner
(`extract.running.cluster`) runs one task per shard. Both call `extract_shards`, so a cluster writes
the shards one process writes; `extract.running.extraction` orchestrates and assembles.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from cache.shards import Shard
from extract.config import ExtractConfig
from extract.network import engines
from extract.reading.pipeline import batches, why_skipped
from extract.reading.sources import Split
from extract.running import native_log


def all_shards(split: Split, shard_size: int) -> list[int]:
    return list(range(-(-len(split) // shard_size)))


def missing_shards(split: Split, store, shard_size: int) -> list[int]:
    return [index for index in all_shards(split, shard_size) if not store.has(split.name, index)]


def shard_range(split: Split, index: int, shard_size: int) -> range:
    return range(index * shard_size, min((index + 1) * shard_size, len(split)))


def extract_shards(split: Split, indices: list[int], engine, config: ExtractConfig) -> Iterator[tuple[int, Shard]]:
    """(index, shard) for the shards `indices` of a split, in order, each as soon as it is done.
    Consecutive shards share one input pipeline, which decodes ahead across their boundary.

    libjpeg's warnings name no file, and the pipeline decodes in parallel and ahead; so the log
    is read after every batch, and new warnings mark as suspects the inputs that may have been
    decoded since the last read: after the last batch, up to `lookahead` beyond this one (twice
    the cores). Assembly decodes the suspects alone, one at a time, to find the
    files, instead of every file of a shard that warned."""
    for run in consecutive(indices):
        yield from _one_pipeline(split, run, engine, config)


def _one_pipeline(split: Split, run: list[int], engine, config: ExtractConfig) -> Iterator[tuple[int, Shard]]:
    """The consecutive shards `run`, through one input pipeline."""
    size = config.shard_size
    overlap = engines.runs_on_gpu(engine.name)
    # what the pipeline may have decoded beyond the batch in hand: its parallel decodes (twice, for
    # margin) and, where it prefetches, two batches
    lookahead = 2 * (os.cpu_count() or 1) + (2 * config.batch if overlap else 0)
    start, stop = run[0] * size, shard_range(split, run[-1], size).stop
    current, checked, suspects = run[0], start - 1, []
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    started = time.perf_counter()

    def look(last: int) -> None:
        """Mark the inputs decoded since the last look if libjpeg warned meanwhile."""
        nonlocal checked
        if log.libjpeg_warnings():
            suspects.append(range(checked + 1, min(last + lookahead, stop - 1) + 1))
        checked = last

    def finished() -> Shard:
        nonlocal current, kept, started
        inside = shard_range(split, current, size)
        mine = sorted({i for window in suspects for i in window if i in inside})
        shard = _shard(split, current, kept, config, time.perf_counter() - started, mine)
        current, kept, started = current + 1, [], time.perf_counter()
        return shard

    with native_log.captured() as log:
        inputs = batches(
            split,
            start,
            config.image_size,
            config.batch,
            overlap,
            config.views,
            config.view_policy,
            stop,
            backbone=config.backbone,
        )
        for positions, batch in inputs:
            look(int(positions[-1]))
            features = _features(engine, batch, config.batch, config.views)
            while len(positions) and positions[-1] >= shard_range(split, current, size).stop:
                inside = positions < shard_range(split, current, size).stop
                kept.append((positions[inside], features[inside]))
                positions, features = positions[~inside], features[~inside]
                yield current, finished()
            kept.append((positions, features))
        look(stop - 1)
        while current <= run[-1]:
            yield current, finished()


def inputs_of(split: Split, index: int, shard_size: int) -> Split:
    """The inputs of one shard of a folder split, and nothing else: what a cluster task carries,
    so that it needs no data a dead worker held."""
    return split.subset(list(shard_range(split, index, shard_size)))


def extract_carried(inputs: Split, index: int, engine, config: ExtractConfig) -> Shard:
    """Shard `index` from `inputs_of` it: the one shard of `inputs`, at its positions in the split."""
    ((_, shard),) = extract_shards(inputs, [0], engine, replace(config, shard_size=max(1, len(inputs))))
    offset = index * config.shard_size
    return replace(shard, positions=shard.positions + offset, suspects=shard.suspects + offset)


def consecutive(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _shard(split: Split, index: int, kept: list, config: ExtractConfig, seconds: float, suspects: list) -> Shard:
    """A shard from the (positions, features) its inputs gave; the inputs that gave none were skipped."""
    positions = np.concatenate([np.zeros(0, np.int64)] + [p for p, _ in kept])
    # straight into the cache's dtype: one copy of the shard, not a float64 one and then another
    empty = np.zeros((0, config.views, config.source.width), config.dtype)
    features = np.concatenate([empty] + [f for _, f in kept], dtype=config.dtype)
    missing = sorted(set(shard_range(split, index, config.shard_size)) - set(positions.tolist()))
    return Shard(
        positions=positions,
        features=features,
        skipped_reasons=[why_skipped(split, i, config.image_size) for i in missing],
        seconds=seconds,
        suspects=np.asarray(suspects, np.int64),
    )


def _features(engine, batch: np.ndarray, batch_size: int, views: int) -> np.ndarray:
    """(B, views, D) features of a batch of inputs, (B, views, size, size, 3) or (B, size, size, 3),
    through the engine `batch_size` images at a time."""
    images = batch.reshape(-1, *batch.shape[-3:])
    features = np.concatenate([engine(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    return features.reshape(len(batch), views, -1)
