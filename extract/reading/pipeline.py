"""Encoded images to model inputs with tf.data: the one input pipeline of extraction,
prediction and fine-tuning.

`elements` reads a split's bytes in order from any position (a resumed run starts where the
last one stopped), `batches` decodes and batches them, and `why_skipped` explains, in one
line, each input the pipeline had to leave out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from extract.reading import augment, images
from extract.reading.sources import Split


def elements(split: Split, start: int = 0, stop: int | None = None) -> tf.data.Dataset:
    """(position, encoded bytes) of a split's inputs from `start` to `stop` (the end), in order."""
    stop = len(split) if stop is None else min(stop, len(split))
    positions = tf.data.Dataset.range(start, stop)
    if split.paths is None:
        return tf.data.Dataset.zip(positions, split.dataset.skip(start).take(stop - start))
    return read_at(split, positions)


def read_at(split: Split, positions: tf.data.Dataset) -> tf.data.Dataset:
    """(position, encoded bytes) of a folder split's inputs at `positions` (int64), in their order:
    a file can be read from any position, so a stream may visit them in any order."""
    names = tf.constant([os.fsencode(path) for path in split.paths], tf.string)  # bytes: a name need not be valid UTF-8
    return positions.map(
        lambda position: (position, tf.io.read_file(names[position])), num_parallel_calls=tf.data.AUTOTUNE
    )


def batches(
    split: Split,
    start: int,
    size: int,
    batch: int,
    overlap: bool = False,
    views: int = 1,
    policy: str = "flip",
    stop: int | None = None,
    *,
    backbone: str,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, inputs of the named backbone) in position order; undecodable inputs are left out
    (`why_skipped` says why).
    With `views` > 1 each input is (views, size, size, 3): the image, then its augmented views
    (`extract.reading.augment`), decoded once.

    On a CPU engine decoding and the forward pass take turns on every core instead of
    overlapping: a decode thread running during the forward pass takes a core from one of the
    engine's threads, and the others wait for it at every layer. `overlap` decodes the next
    batches during the forward pass, for an engine on a GPU. tf.data's autotuner is off: beside
    the engine's threads it sometimes settled at half speed for a whole split (BENCHMARKS.md)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    if views > 1:
        # Seeded by each file's content where the source knows it (folders): a moved, renamed or
        # copied file keeps its views, as an update, which reuses rows by content, keeps them; so
        # an update is the fresh build bit for bit. By id where it does not (TFDS).
        seeds = tf.constant([augment.seed_of(item) for item in split.content or split.ids], tf.int64)

        def inputs(position, encoded):
            return position, augment.views(images.preprocess(encoded, size, backbone), seeds[position], views, policy)
    else:

        def inputs(position, encoded):
            return position, images.preprocess(encoded, size, backbone)

    dataset = (
        elements(split, start, stop)
        .map(inputs, num_parallel_calls=os.cpu_count(), deterministic=True)
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
