"""Images of each split, exactly the files the cache holds, through extraction's preprocessing."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import cache
from classify.heads.network import training_batches
from classify.protocol import Protocol
from extract import images, pipeline
from extract.augment import random_view as augment_view
from extract.build import data_change
from extract.hashes import ContentHashes
from extract.sources import open_source
from workflow.paths import Paths


def cached_splits(paths: Paths, meta: dict) -> dict:
    """{split name: (source split, mask of the positions the cache kept)}; `meta` is `cache.info`'s.

    The source is opened again as the cache recorded it; a source that changed since
    (another fingerprint) would give other images, so it is refused.
    """
    settings = meta["extract_config"]
    hashes = ContentHashes(paths.content_hashes)  # read only: extraction keeps the index
    source = open_source(meta["dataset"], settings["limit"], settings["tfds_data_dir"], hashes)
    if source.fingerprint != meta["dataset_fingerprint"]:
        why = data_change(paths) or f"{meta['dataset']} changed since the cache was built"
        raise cache.CacheError(f"{why}: run `make features` again")
    result = {}
    for split in source.splits:
        kept = set(cache.ids(paths.cache, split.name))
        keep = np.array([item in kept for item in split.ids])
        result[split.name] = (split, keep)
    return result


def image_dataset(
    split,
    keep: np.ndarray,
    image_size: int,
    batch: int,
    binary: bool,
    shuffle_seed: int | None = None,
    augment: bool = False,
):
    """Batches of (model input, label) for the kept positions of a split, in cache order; or with
    `shuffle_seed`, a training stream: a new order every epoch, a last batch of under half a batch
    left out (`classify.heads.network.training_batches`); with `augment` (training), each image a
    new random view every epoch (`extract.augment`'s `finetune` policy, seeded from `shuffle_seed`)."""
    labels = tf.constant(split.labels.astype(np.float32 if binary else np.int64))
    dataset = kept_elements(split, keep, shuffle_seed).map(
        lambda position, encoded: (images.preprocess(encoded, image_size), labels[position]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augment:
        seeds = tf.data.Dataset.random(seed=shuffle_seed or 0, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda pair, seed: (augment_view(pair[0], seed), pair[1]), num_parallel_calls=tf.data.AUTOTUNE
        )
    if shuffle_seed is None:
        return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)
    size, drop = training_batches(int(keep.sum()), batch)
    return dataset.batch(size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)


def kept_elements(split, keep: np.ndarray, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """(position, encoded bytes) of the kept positions of a split: in cache order, or with
    `shuffle_seed` a new permutation of all of them every epoch, made before any image is decoded.

    The cache lists each class's images together, so a bounded shuffle buffer would stream them
    class by class (issue 23). A folder split is read at any position: only the positions are
    shuffled. A TFDS split is read in order only, so its kept encoded bytes, not decoded images,
    go through one buffer as large as the split: it holds the split's encoded size in memory."""
    count = int(keep.sum())
    if split.paths is None:
        keep_table = tf.constant(keep)
        dataset = pipeline.elements(split).filter(lambda position, encoded: keep_table[position])
        if shuffle_seed is not None:
            dataset = dataset.shuffle(count, seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset.apply(tf.data.experimental.assert_cardinality(count))
    positions = tf.data.Dataset.from_tensor_slices(np.flatnonzero(keep).astype(np.int64))
    if shuffle_seed is not None:
        positions = positions.shuffle(count, seed=shuffle_seed, reshuffle_each_iteration=True)
    return pipeline.read_at(split, positions)


def roles_of(splits: dict, protocol: Protocol) -> dict:
    """{"fit", "choose", "score": (source split, mask)}: `cached_splits` in the protocol's roles."""
    split, keep = splits["train"]
    in_dev = np.array([item in protocol.dev_ids for item in split.ids], dtype=bool)
    roles = {"fit": (split, keep & ~in_dev), "score": splits[protocol.score]}
    roles["choose"] = (split, keep & in_dev) if protocol.choose == "dev" else splits["validation"]
    return roles
