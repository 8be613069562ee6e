"""Extraction, orchestrated: source → shards (by the local or the Dask runner) → HDF5 cache.

`extract.running.build` calls it only when the cache is not up to date by its quick key; this module
loads TensorFlow and the model. Where the previous cache has the same features key, only the
files whose content it has not seen go through the model (`extract.recorded.reuse`), and the rest of
its rows are copied over in the new listing's row order (`sources.in_row_order`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

import cache
from cache.shards import ShardStore
from extract.config import ExtractConfig
from extract.network import backbone, calibration, engines
from extract.reading import images
from extract.reading.hashes import ContentHashes, digest
from extract.reading.pipeline import elements
from extract.reading.sources import Source, Split, open_source
from extract.recorded import identity
from extract.recorded.reuse import Outcome, Reuse
from extract.running import local, native_log
from extract.running.shard_work import all_shards, consecutive, missing_shards, shard_range

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
        from extract.running import cluster

        cluster.leave_gpus_to_workers()
    features = config.source  # the feature-source record (`source` is the data)
    model = backbone.build_backbone(config.weights, config.image_size, features)
    weights_hash = backbone.weights_sha256(model)
    engine_name = engines.resolve("keras" if config.cluster == "local-gpu" else config.engine)
    int8 = (
        calibration.of_source(source, config.calibration, config.image_size, config.backbone, config.dev_fraction)
        if config.precision == "int8"
        else None
    )
    attrs = {
        "model": features.network.model,
        "feature_source": features.to_record(),
        # absolute, so later stages find the file from any working directory
        "weights": config.weights if config.weights == "imagenet" else str(Path(config.weights).resolve()),
        "weights_sha256": weights_hash,
        "image_size": config.image_size,
        "preprocessing": features.preprocessing,
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
    store = ShardStore(paths.parts, digest([attrs["fingerprint"], reuse and reuse.fingerprint]))
    size = config.shard_size
    resumed = any(missing_shards(split, store, size) != all_shards(split, size) for split in work)
    note = None  # what a cluster lost on the way
    if config.cluster or config.scheduler:
        from extract.running import cluster

        note = cluster.extract_splits(work, store, replace(config, engine=engine_name), progress)
    else:
        engine = engines.make_engine(
            engine_name, model, weights_hash, config.image_size, config.batch, config.engine_path, calibration=int8
        )
        if int8:  # checked, not assumed: before the cache is written, which records it
            attrs["precision_check"] = calibration.check(engine, model, weights_hash, source, config)
        local.extract_splits(work, engine, store, config, progress)
    assemble(paths.cache, attrs, source, work, store, reuse, config)
    store.remove()
    status = _status(why, reuse, source, work, resumed)
    return f"{status} ({note})" if note else status


def _status(why: str, reuse: Reuse | None, source: Source, work: list[Split], resumed: bool) -> str:
    if why:
        return f"rebuilt, since {why.split(': run')[0]}"
    if reuse:
        extracted = sum(len(split) for split in work)
        reused = sum(len(split) for split in source.splits) - extracted
        return f"updated: {extracted} new or changed inputs extracted, {reused} reused"
    return "resumed" if resumed else "built"


def assemble(path, attrs: dict, source: Source, work: list[Split], store: ShardStore, reuse, config) -> None:
    """Write every split in its source's row order: rows reused from the previous cache where the
    content is known, the rest from this run's shards, ASSEMBLY_ROWS inputs in memory at a time.
    Where this run's decoding printed libjpeg warnings, the files behind them are found and
    named in the split's `warnings`."""
    writer = cache.CacheWriter(path, attrs, config.source.blocks, config.dtype, config.views)
    try:
        for split, new in zip(source.splits, work, strict=True):
            writer.add_split(split.name)
            fresh = _fresh_outcomes(new, store, config.shard_size)
            kept_with_warnings = {}
            for start in range(0, len(split), ASSEMBLY_ROWS):
                block = range(start, min(start + ASSEMBLY_ROWS, len(split)))
                kept_with_warnings |= _append_block(writer, split, block, fresh, reuse, config)
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
        warnings = _decode_warnings(split, shard.suspects)
        for i in inputs:
            yield Outcome(rows[i], None, warnings.get(i)) if i in rows else Outcome(None, next(reasons), None)


def _decode_warnings(split: Split, suspects: np.ndarray) -> dict[int, str]:
    """{position: libjpeg's warning} for the JPEGs among `suspects` (positions) of `split` that decode
    with one, found by decoding one file at a time (extraction decodes in parallel: its warnings
    name no file)."""
    found = {}
    with native_log.captured() as log:
        for run in consecutive(suspects.tolist()):
            for position, encoded in elements(split, run[0], run[-1] + 1).as_numpy_iterator():
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
    writer: cache.CacheWriter, split: Split, positions: range, fresh, reuse, config: ExtractConfig
) -> dict[str, str]:
    """Append the inputs at `positions`; {id: libjpeg's warning} of the rows kept despite one."""
    content = {i: split.content[i] if split.content else "" for i in positions}  # "" where unknown (TFDS)
    outcomes = {}
    for i in positions:
        outcomes[i] = reuse.outcome(content[i]) if reuse and reuse.known(content[i]) else next(fresh)
    kept = [i for i in positions if outcomes[i].skipped is None]
    left_out = [i for i in positions if outcomes[i].skipped is not None]
    block = np.zeros((len(kept), config.views, config.source.width), np.float32)
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
