"""The extraction work: source → decode pipeline → engine → shards → HDF5 cache.

`extract.build` calls it only when the cache is not up to date by its quick key; this module
loads TensorFlow and the model. Where the previous cache has the same features key, only the
files whose content it has not seen go through the model (`extract.reuse`), and the rest of
its rows are copied over in the new listing's order.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

import cache
from cache.shards import Shard, ShardStore
from extract import backbone, calibration, engines, identity, images, native_log
from extract.config import ExtractConfig
from extract.hashes import ContentHashes
from extract.pipeline import batches, elements, why_skipped
from extract.reuse import Outcome, Reuse
from extract.sources import Source, Split, open_source

ASSEMBLY_ROWS = 4096


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


def extract(
    config: ExtractConfig, progress: bool = True, hashes: ContentHashes | None = None, source: Source | None = None
) -> str:
    """Build, update or resume building the cache of `config` from `source` (opened from the config
    if None); "built", "updated: …", "resumed", "up to date" or "rebuilt …"."""
    source = source or open_source(config.data, config.limit, config.tfds_data_dir, hashes)
    if config.cluster == "local-gpu":
        from extract import cluster

        cluster.leave_gpus_to_workers()
    model = backbone.build_backbone(config.weights, config.image_size)
    weights_hash = backbone.weights_sha256(model)
    engine_name = engines.resolve("keras" if config.cluster == "local-gpu" else config.engine)
    int8 = calibration.of_source(source, config.calibration, config.image_size) if config.precision == "int8" else None
    attrs = {
        "model": identity.MODEL_NAME,
        # absolute, so later stages find the file from any working directory
        "weights": config.weights if config.weights == "imagenet" else str(Path(config.weights).resolve()),
        "weights_sha256": weights_hash,
        "image_size": config.image_size,
        "preprocessing": identity.PREPROCESSING,
        "engine": engine_name,
        "dtype": config.dtype,
        "precision": config.precision,
        "calibration": int8.digest if int8 else "",
        "views": config.views,
        "view_policy": config.view_policy,
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

    if config.force:
        shutil.rmtree(paths.parts, ignore_errors=True)
    by_content = all(split.content is not None for split in source.splits)  # folders, not TFDS
    reuse = Reuse.of(paths.cache, attrs) if by_content and not config.force else None
    work = [reuse.new(split) if reuse else split for split in source.splits]
    # the work to do depends on the cache it updates: a resumed run must find that same cache
    store = ShardStore(paths.parts, identity.digest([attrs["fingerprint"], reuse and reuse.fingerprint]))
    size = config.shard_size
    resumed = any(missing_shards(split, store, size) != all_shards(split, size) for split in work)
    if config.cluster or config.scheduler:
        from extract import cluster

        cluster.extract_splits(work, store, replace(config, engine=engine_name), progress)
    else:
        engine = engines.make_engine(
            engine_name, model, weights_hash, config.image_size, config.batch, config.engine_path, calibration=int8
        )
        if int8:  # checked, not assumed: before the cache is written, which records it
            attrs["precision_check"] = calibration.check(engine, model, weights_hash, source, config)
        for split in work:
            _extract_split(split, engine, store, config, progress)
    assemble(paths.cache, attrs, source, work, store, reuse, config)
    store.remove()
    if why:
        return f"rebuilt, since {why.split(': run')[0]}"
    if reuse:
        extracted = sum(len(split) for split in work)
        reused = sum(len(split) for split in source.splits) - extracted
        return f"updated: {extracted} new or changed inputs extracted, {reused} reused"
    return "resumed" if resumed else "built"


def _extract_split(split: Split, engine, store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    """Every shard of `split` not yet in `store`, in order."""
    todo = missing_shards(split, store, config.shard_size)
    if not todo:
        return
    left = sum(len(shard_range(split, index, config.shard_size)) for index in todo)
    bar = tqdm(total=len(split), initial=len(split) - left, unit="img", desc=split.name, disable=not progress)
    for index, shard in extract_shards(split, todo, engine, config):
        store.write(split.name, index, shard)
        bar.update(len(shard_range(split, index, config.shard_size)))
    bar.close()


def all_shards(split: Split, shard_size: int) -> list[int]:
    return list(range(-(-len(split) // shard_size)))


def missing_shards(split: Split, store: ShardStore, shard_size: int) -> list[int]:
    return [index for index in all_shards(split, shard_size) if not store.has(split.name, index)]


def shard_range(split: Split, index: int, shard_size: int) -> range:
    return range(index * shard_size, min((index + 1) * shard_size, len(split)))


def extract_shards(split: Split, indices: list[int], engine, config: ExtractConfig) -> Iterator[tuple[int, Shard]]:
    """(index, shard) for the shards `indices` of a split, in order, each as soon as it is done: the
    unit of work, in one process or one per cluster task (`extract.cluster`). Consecutive shards
    share one input pipeline, which decodes ahead across their boundary; so a libjpeg warning
    that shows while a shard finishes marks it and the next one (which file's is found at
    assembly)."""
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


def assemble(path, attrs: dict, source: Source, work: list[Split], store: ShardStore, reuse, config) -> None:
    """Write every split in its listing order: rows reused from the previous cache where the
    content is known, the rest from this run's shards, ASSEMBLY_ROWS inputs in memory at a time.
    Where this run's decoding printed libjpeg warnings, the files behind them are found and
    named in the split's `warnings`."""
    writer = cache.CacheWriter(path, attrs, identity.FEATURE_DIM, config.dtype, config.views)
    try:
        for split, new in zip(source.splits, work, strict=True):
            writer.add_split(split.name)
            fresh = _fresh_outcomes(new, store, config.shard_size)
            kept_with_warnings = {}
            for start in range(0, len(split), ASSEMBLY_ROWS):
                block = range(start, min(start + ASSEMBLY_ROWS, len(split)))
                kept_with_warnings |= _append_block(writer, split, block, fresh, reuse, config.views)
            run_seconds = store.seconds(split.name)
            reused = len(split) - len(new)
            writer.set_split_attrs(
                split.name,
                n_inputs=len(split),
                extracted=len(new),
                run_seconds=run_seconds,
                # what extracting every input costs: reused rows at the rate they were extracted at
                seconds=run_seconds + (reused * reuse.seconds_per_input if reuse else 0.0),
                warnings=json.dumps(kept_with_warnings),
            )
    except BaseException:
        writer.abort()
        raise
    writer.close()


def _fresh_outcomes(split: Split, store: ShardStore, shard_size: int):
    """An `Outcome` for each input of `split`, in order, from its shards."""
    for index in range(store.done(split.name)):
        shard = store.read(split.name, index)
        rows = dict(zip(shard.positions.tolist(), shard.features, strict=True))
        reasons = iter(shard.skipped_reasons)  # of the other positions, ascending
        inputs = shard_range(split, index, shard_size)
        warnings = _decode_warnings(split, inputs) if shard.warned else {}
        for i in inputs:
            yield Outcome(rows[i], None, warnings.get(i)) if i in rows else Outcome(None, next(reasons), None)


def _decode_warnings(split: Split, inputs: range) -> dict[int, str]:
    """{position: libjpeg's warning} for the JPEGs among `inputs` of `split` that decode with one,
    found by decoding one file at a time (extraction decodes in parallel: its warnings name no file)."""
    found = {}
    with native_log.captured() as log:
        for position, encoded in elements(split, inputs.start, inputs.stop).as_numpy_iterator():
            if not encoded.startswith(b"\xff\xd8"):
                continue  # not a JPEG
            try:
                images.decode(tf.constant(encoded))
                decoded = True
            except tf.errors.OpError:
                decoded = False  # undecodable: skipped, with its reason
            warnings = log.libjpeg_warnings()  # read either way: the next file's start afresh
            if decoded and warnings:
                found[int(position)] = warnings[0]
    return found


def _append_block(
    writer: cache.CacheWriter, split: Split, positions: range, fresh, reuse, views: int
) -> dict[str, str]:
    """Append the inputs at `positions`; {id: libjpeg's warning} of the rows kept despite one."""
    content = {i: split.content[i] if split.content else "" for i in positions}  # "" where unknown (TFDS)
    outcomes = {}
    for i in positions:
        outcomes[i] = reuse.outcome(content[i]) if reuse and reuse.known(content[i]) else next(fresh)
    kept = [i for i in positions if outcomes[i].skipped is None]
    left_out = [i for i in positions if outcomes[i].skipped is not None]
    block = np.zeros((len(kept), views, identity.FEATURE_DIM), np.float32)
    reused = [k for k, i in enumerate(kept) if outcomes[i].features is None]
    if reused:
        block[reused] = reuse.features([content[kept[k]] for k in reused])
    for k, i in enumerate(kept):
        if outcomes[i].features is not None:
            block[k] = outcomes[i].features
    writer.append(
        split.name,
        block[:, 0],
        split.labels[kept],
        [split.ids[i] for i in kept],
        [split.ids[i] for i in left_out],
        [outcomes[i].skipped for i in left_out],
        [content[i] for i in kept],
        [content[i] for i in left_out],
        block[:, 1:],
    )
    return {split.ids[i]: outcomes[i].warning for i in kept if outcomes[i].warning}
