"""The extraction run: source → decode pipeline → engine → shards → HDF5 cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import h5py
import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

import cache
from cache.shards import Shard, ShardStore
from extract import backbone, engines, images
from extract.config import ExtractConfig
from extract.sources import Source, Split, open_source


@dataclass
class SplitSummary:
    split: str
    images: int
    skipped: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


@dataclass
class Summary:
    path: Path
    status: str  # "built", "resumed" or "up to date"
    splits: list[SplitSummary] = field(default_factory=list)


def fingerprint_of(attrs: dict) -> str:
    """Everything that decides the features; not batch size, not library versions."""
    keys = ("model", "weights_sha256", "image_size", "preprocessing", "engine", "dtype",
            "dataset", "dataset_fingerprint", "class_names")
    return hashlib.sha256(json.dumps({k: attrs[k] for k in keys}, sort_keys=True).encode()).hexdigest()


def up_to_date(path: Path, fingerprint: str) -> bool:
    try:
        return cache.info(path)["fingerprint"] == fingerprint
    except cache.CacheError:
        return False


def run(config: ExtractConfig, progress: bool = True) -> Summary:
    source = open_source(config.data, config.limit, config.tfds_data_dir)
    model = backbone.build_backbone(config.weights, config.image_size)
    weights_hash = backbone.weights_sha256(model)
    engine_name = engines.resolve(config.engine)
    attrs = {
        "model": backbone.MODEL_NAME,
        "weights": config.weights,
        "weights_sha256": weights_hash,
        "image_size": config.image_size,
        "preprocessing": images.PREPROCESSING,
        "engine": engine_name,
        "dtype": config.dtype,
        "dataset": source.description,
        "dataset_fingerprint": source.fingerprint,
        "class_names": source.class_names,
        "versions": {module.__name__: module.__version__ for module in (tf, keras, np, h5py)},
        "extract_config": asdict(config),
    }
    attrs["fingerprint"] = fingerprint_of(attrs)
    path = config.cache_path
    if not config.force and up_to_date(path, attrs["fingerprint"]):
        return Summary(path, "up to date", _summaries_of(path))

    engine = engines.make_engine(engine_name, model, weights_hash, config.image_size, config.batch,
                                 config.engine_path)
    parts = path.with_name(path.name + ".parts")
    if config.force:
        shutil.rmtree(parts, ignore_errors=True)
    store = ShardStore(parts, attrs["fingerprint"])
    resumed = any(store.done(split.name) for split in source.splits)
    for split in source.splits:
        _extract_split(split, engine, store, config, progress)
    _assemble(path, attrs, source, store, config)
    store.remove()
    return Summary(path, "resumed" if resumed else "built", _summaries_of(path))


def _extract_split(split: Split, engine, store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    shard_size = config.shard_size
    n_shards = -(-len(split) // shard_size)
    first = store.done(split.name)
    if first >= n_shards:
        return
    bar = tqdm(total=len(split), initial=first * shard_size, unit="img", desc=split.name,
               disable=not progress, dynamic_ncols=True)
    pending_positions: list[np.ndarray] = []
    pending_features: list[np.ndarray] = []
    shard = first
    started = time.perf_counter()

    def flush() -> None:
        nonlocal shard, started, pending_positions, pending_features
        end = min((shard + 1) * shard_size, len(split))
        positions = np.concatenate(pending_positions) if pending_positions else np.zeros(0, np.int64)
        features = np.concatenate(pending_features) if pending_features else np.zeros((0, backbone.FEATURE_DIM))
        inside = positions < end
        done, rows = positions[inside], features[inside]
        pending_positions, pending_features = [positions[~inside]], [features[~inside]]
        missing = sorted(set(range(shard * shard_size, end)) - set(done.tolist()))
        store.write(split.name, shard, Shard(
            features=rows.astype(config.dtype),
            labels=split.labels[done],
            ids=[split.ids[i] for i in done],
            skipped_ids=[split.ids[i] for i in missing],
            skipped_reasons=[why_skipped(split, i, config.image_size) for i in missing],
            seconds=time.perf_counter() - started,
        ))
        shard += 1
        started = time.perf_counter()

    overlap = engines.runs_on_gpu(engine.name)
    for positions, batch in batches(split, first * shard_size, config.image_size, config.batch, overlap):
        pending_positions.append(positions)
        pending_features.append(engine(batch))
        while (shard + 1) * shard_size <= positions[-1]:
            flush()
        bar.update(int(positions[-1]) + 1 - bar.n)
    while shard < n_shards:
        flush()
    bar.update(len(split) - bar.n)
    bar.close()


def batches(split: Split, start: int, size: int, batch: int,
            overlap: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, model inputs) in position order; undecodable inputs are left out (`why_skipped` says why).

    On a CPU engine decoding and the forward pass take turns on every core instead of
    overlapping: a decode thread running during the forward pass takes a core from one of the
    engine's threads, and the others wait for it at every layer. `overlap` decodes the next
    batches during the forward pass, for an engine on a GPU. tf.data's autotuner is off: beside
    the engine's threads it sometimes settled at half speed for a whole split (BENCHMARKS.md)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = (
        split.elements(start)
        .map(lambda position, encoded: (position, images.preprocess(encoded, size)),
             num_parallel_calls=os.cpu_count(), deterministic=True)
        .ignore_errors()
        .batch(batch)
    )
    if overlap:
        dataset = dataset.prefetch(2)
    return dataset.with_options(options).as_numpy_iterator()


def why_skipped(split: Split, position: int, size: int) -> str:
    try:
        encoded = split.read(position)
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    return images.decode_error(encoded, size) or "failed in the input pipeline"


def _assemble(path: Path, attrs: dict, source: Source, store: ShardStore, config: ExtractConfig) -> None:
    """Stream every shard into the HDF5 cache, one shard in memory at a time."""
    writer = cache.CacheWriter(path, attrs, backbone.FEATURE_DIM, config.dtype)
    try:
        for split in source.splits:
            writer.add_split(split.name)
            seconds = 0.0
            for index in range(store.done(split.name)):
                shard = store.read(split.name, index)
                writer.append(split.name, shard.features, shard.labels, shard.ids,
                              shard.skipped_ids, shard.skipped_reasons)
                seconds += shard.seconds
            writer.set_split_attrs(split.name, n_inputs=len(split), seconds=seconds)
    except BaseException:
        writer.abort()
        raise
    writer.close()

def _summaries_of(path: Path) -> list[SplitSummary]:
    return [
        SplitSummary(name, s["rows"], s["skipped"], s["seconds"])
        for name, s in cache.info(path)["splits"].items()
    ]
