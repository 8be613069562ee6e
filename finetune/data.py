"""Images of each split, exactly the files the cache holds, through extraction's preprocessing."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import cache
from classify.heads.network import steps_per_epoch, training_batches
from classify.protocol import Protocol
from extract.reading import images, pipeline
from extract.reading.augment import random_view as augment_view
from extract.reading.hashes import ContentHashes
from extract.reading.sources import open_source
from extract.running.build import data_change
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
    split, keep: np.ndarray, image_size: int, batch: int, binary: bool, *, backbone: str
) -> tf.data.Dataset:
    """Batches of (input of the named backbone, label) for the kept positions of a split, in cache order."""
    labels = label_table(split, binary)
    dataset = kept_elements(split, keep).map(
        lambda position, encoded: (images.preprocess(encoded, image_size, backbone), labels[position]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def kept_elements(split, keep: np.ndarray) -> tf.data.Dataset:
    """(position, encoded bytes) of the kept positions of a split, in cache order."""
    count = int(keep.sum())
    if split.paths is None:
        keep_table = tf.constant(keep)
        dataset = pipeline.elements(split).filter(lambda position, encoded: keep_table[position])
        return dataset.apply(tf.data.experimental.assert_cardinality(count))
    positions = tf.data.Dataset.from_tensor_slices(np.flatnonzero(keep).astype(np.int64))
    return pipeline.read_at(split, positions)


def label_table(split, binary: bool) -> tf.Tensor:
    return tf.constant(split.labels.astype(np.float32 if binary else np.int64))


@dataclass(frozen=True)
class EpochPlan:
    """One epoch of a training stream: the kept positions in the order it visits them, the seed of
    its augmentation (the image at `position` is viewed as `augment.random_view(image,
    (augmentation_seed, position))`), and the seed its model's dropout masks start from."""

    epoch: int
    positions: np.ndarray
    augmentation_seed: int
    dropout_seed: int


class TrainingStream:
    """The training batches of a run: every epoch the kept positions in a new order, each image a
    new random view (with `augment`), a last batch of under half a batch left out
    (`classify.heads.network.training_batches`).

    Epoch e's order and views are a pure function of (seed, e) (`plan`), never of how many epochs
    this process has run: a run killed after epoch 2 and resumed gets epoch 3's, as the run left
    alone does. The order is drawn before any image is decoded, from the whole split: the cache
    lists each class's images together, so a bounded shuffle buffer would stream them class by
    class (issue 23).

    `dataset`: one epoch per pass, the one `epoch` names (Keras sets it as each epoch begins,
    `finetune.runs.StreamEpochs`); `endless()`: epochs 0, 1, 2, ... one after the other."""

    def __init__(
        self, split, keep, image_size: int, batch: int, binary: bool, seed: int, augment: bool, *, backbone: str
    ):
        self.split, self.image_size, self.seed, self.augment = split, image_size, seed, augment
        self.backbone = backbone  # whose preprocessing the images get
        self.keep, self.kept = keep, np.flatnonzero(keep).astype(np.int64)
        self.labels = label_table(split, binary)
        self.size, self.drop = training_batches(len(self.kept), batch)
        self.epoch = 0
        self.served: dict[int, EpochPlan] = {}  # the plans this process's passes were made from
        steps = steps_per_epoch(len(self.kept), batch)
        cardinality = tf.data.experimental.assert_cardinality(steps)
        self.dataset = self._epochs(lambda: iter([self.epoch])).apply(cardinality).prefetch(tf.data.AUTOTUNE)

    def plan(self, epoch: int) -> EpochPlan:
        draw = np.random.default_rng([self.seed, epoch])
        order = self.kept[draw.permutation(len(self.kept))]
        return EpochPlan(epoch, order, *map(int, draw.integers(2**31, size=2)))

    def endless(self) -> tf.data.Dataset:
        return self._epochs(itertools.count).prefetch(tf.data.AUTOTUNE)

    def _epochs(self, epochs) -> tf.data.Dataset:
        """The batches of each epoch `epochs()` yields (called once per pass), one after the other."""

        def plans():
            for epoch in epochs():
                plan = self.served[epoch] = self.plan(epoch)
                yield plan.positions, plan.augmentation_seed

        signature = (tf.TensorSpec((len(self.kept),), tf.int64), tf.TensorSpec((), tf.int64))
        return tf.data.Dataset.from_generator(plans, output_signature=signature).flat_map(self._one_epoch)

    def _one_epoch(self, positions, augmentation_seed) -> tf.data.Dataset:
        dataset = self.read(positions).map(
            lambda position, encoded: (position, images.preprocess(encoded, self.image_size, self.backbone)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        if self.augment:
            dataset = dataset.map(
                lambda position, image: (position, augment_view(image, tf.stack([augmentation_seed, position]))),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        dataset = dataset.map(lambda position, image: (image, self.labels[position]))
        return dataset.batch(self.size, drop_remainder=self.drop)

    def read(self, positions) -> tf.data.Dataset:
        """(position, encoded bytes) in the order of `positions`. A folder split is read at any
        position. A TFDS split is read in order only, so its kept encoded bytes, not decoded images,
        are gathered whole and reordered: it holds the split's encoded size in memory."""
        if self.split.paths is not None:
            return pipeline.read_at(self.split, tf.data.Dataset.from_tensor_slices(positions))
        rank = tf.constant(np.searchsorted(self.kept, np.arange(len(self.split))), tf.int64)  # kept position -> index
        order = tf.gather(rank, positions)
        whole = kept_elements(self.split, self.keep).batch(len(self.kept))
        return whole.flat_map(
            lambda kept, encoded: tf.data.Dataset.from_tensor_slices(
                (tf.gather(kept, order), tf.gather(encoded, order))
            )
        )


def roles_of(splits: dict, protocol: Protocol) -> dict:
    """{"fit", "choose", "score": (source split, mask)}: `cached_splits` in the protocol's roles."""
    split, keep = splits["train"]
    in_dev = np.array([item in protocol.dev_ids for item in split.ids], dtype=bool)
    roles = {"fit": (split, keep & ~in_dev), "score": splits[protocol.score]}
    roles["choose"] = (split, keep & in_dev) if protocol.choose == "dev" else splits["validation"]
    return roles
