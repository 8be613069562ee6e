"""The extraction work: source → decode pipeline → engine → shards → HDF5 cache.

`extract.build` calls it only when the cache is not up to date by its quick key; this module
loads TensorFlow and the model.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

import cache
from cache.shards import Shard, ShardStore
from extract import backbone, engines, identity
from extract.config import ExtractConfig
from extract.hashes import ContentHashes
from extract.pipeline import batches, why_skipped
from extract.sources import Source, Split, open_source


def damage(path, fingerprint: str) -> str | None:
    """None if the cache at `path` is complete, has this fingerprint and every value matches its
    checksum; otherwise why not, or "" where there is no such cache (absent, other settings)."""
    try:
        if cache.info(path)["fingerprint"] != fingerprint:
            return ""
        cache.verify(path)
        return None
    except cache.CacheError as err:
        return "" if not path.exists() else str(err)


def extract(config: ExtractConfig, progress: bool = True, hashes: ContentHashes | None = None) -> str:
    """Build (or resume building) the cache of `config`; "built", "resumed", "up to date" or "rebuilt …"."""
    source = open_source(config.data, config.limit, config.tfds_data_dir, hashes)
    model = backbone.build_backbone(config.weights, config.image_size)
    weights_hash = backbone.weights_sha256(model)
    engine_name = engines.resolve(config.engine)
    attrs = {
        "model": identity.MODEL_NAME,
        # absolute, so later stages find the file from any working directory
        "weights": config.weights if config.weights == "imagenet" else str(Path(config.weights).resolve()),
        "weights_sha256": weights_hash,
        "image_size": config.image_size,
        "preprocessing": identity.PREPROCESSING,
        "engine": engine_name,
        "dtype": config.dtype,
        "dataset": source.description,
        "dataset_fingerprint": source.fingerprint,
        "class_names": source.class_names,
        "versions": {module.__name__: module.__version__ for module in (tf, keras, np, h5py)},
        "extract_config": asdict(config),
    }
    attrs["fingerprint"] = identity.fingerprint_of(attrs)
    paths = config.paths
    why = "" if config.force else damage(paths.cache, attrs["fingerprint"])
    if why is None:
        return "up to date"

    engine = engines.make_engine(engine_name, model, weights_hash, config.image_size, config.batch, config.engine_path)
    if config.force:
        shutil.rmtree(paths.parts, ignore_errors=True)
    store = ShardStore(paths.parts, attrs["fingerprint"])
    resumed = any(store.done(split.name) for split in source.splits)
    for split in source.splits:
        _extract_split(split, engine, store, config, progress)
    _assemble(paths.cache, attrs, source, store, config)
    store.remove()
    if why:
        return f"rebuilt, since {why.split(': run')[0]}"
    return "resumed" if resumed else "built"


def _extract_split(split: Split, engine, store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    shard_size = config.shard_size
    n_shards = -(-len(split) // shard_size)
    first = store.done(split.name)
    if first >= n_shards:
        return
    bar = tqdm(
        total=len(split),
        initial=first * shard_size,
        unit="img",
        desc=split.name,
        disable=not progress,
        dynamic_ncols=True,
    )
    pending_positions: list[np.ndarray] = []
    pending_features: list[np.ndarray] = []
    shard = first
    started = time.perf_counter()

    def flush() -> None:
        nonlocal shard, started, pending_positions, pending_features
        end = min((shard + 1) * shard_size, len(split))
        positions = np.concatenate(pending_positions) if pending_positions else np.zeros(0, np.int64)
        features = np.concatenate(pending_features) if pending_features else np.zeros((0, identity.FEATURE_DIM))
        inside = positions < end
        done, rows = positions[inside], features[inside]
        pending_positions, pending_features = [positions[~inside]], [features[~inside]]
        missing = sorted(set(range(shard * shard_size, end)) - set(done.tolist()))
        store.write(
            split.name,
            shard,
            Shard(
                features=rows.astype(config.dtype),
                labels=split.labels[done],
                ids=[split.ids[i] for i in done],
                skipped_ids=[split.ids[i] for i in missing],
                skipped_reasons=[why_skipped(split, i, config.image_size) for i in missing],
                seconds=time.perf_counter() - started,
            ),
        )
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


def _assemble(path, attrs: dict, source: Source, store: ShardStore, config: ExtractConfig) -> None:
    """Stream every shard into the HDF5 cache, one shard in memory at a time."""
    writer = cache.CacheWriter(path, attrs, identity.FEATURE_DIM, config.dtype)
    try:
        for split in source.splits:
            writer.add_split(split.name)
            seconds = 0.0
            for index in range(store.done(split.name)):
                shard = store.read(split.name, index)
                writer.append(
                    split.name, shard.features, shard.labels, shard.ids, shard.skipped_ids, shard.skipped_reasons
                )
                seconds += shard.seconds
            writer.set_split_attrs(split.name, n_inputs=len(split), seconds=seconds)
    except BaseException:
        writer.abort()
        raise
    writer.close()
