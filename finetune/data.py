"""Images of each split, exactly the files the cache holds, through extraction's preprocessing."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import cache
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
    """Batches of (model input, label) for the kept positions of a split, in cache order unless
    shuffled (`shuffle_seed`); with `augment` (training), each image a new random view every epoch
    (`extract.augment`'s `finetune` policy, seeded from `shuffle_seed`)."""
    keep_table = tf.constant(keep)
    labels = tf.constant(split.labels.astype(np.float32 if binary else np.int64))
    dataset = (
        pipeline.elements(split)
        .filter(lambda position, encoded: keep_table[position])
        .apply(tf.data.experimental.assert_cardinality(int(keep.sum())))
    )
    if shuffle_seed is not None:
        dataset = dataset.shuffle(1024, seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda position, encoded: (images.preprocess(encoded, image_size), labels[position]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augment:
        seeds = tf.data.Dataset.random(seed=shuffle_seed or 0, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda pair, seed: (augment_view(pair[0], seed), pair[1]), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def roles_of(splits: dict, protocol: Protocol) -> dict:
    """{"fit", "choose", "score": (source split, mask)}: `cached_splits` in the protocol's roles."""
    split, keep = splits["train"]
    in_dev = np.array([item in protocol.dev_ids for item in split.ids], dtype=bool)
    roles = {"fit": (split, keep & ~in_dev), "score": splits[protocol.score]}
    roles["choose"] = (split, keep & in_dev) if protocol.choose == "dev" else splits["validation"]
    return roles
