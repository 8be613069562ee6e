"""Augmented views of an image: the one augmentation implementation, shared by the cache's
views (`VIEWS`, deterministic per image and view) and fine-tuning (random each epoch).

Policies:
- `flip`: the mirror image; two distinct views (the original and its flip).
- `finetune`: a random horizontal flip, rotation of up to ±36° (0.1 of a turn) and zoom of up
  to ±10% with reflected borders: what fine-tuning trains on (the tutorial's RandomFlip and
  RandomRotation(0.1), plus RandomZoom(0.1)).

Every random choice comes from a stateless generator keyed by a seed, so a view is a pure
function of the image and its seed: the same on every run, resumed or not.
"""

from __future__ import annotations

import hashlib
import math

import tensorflow as tf

POLICIES = ("flip", "finetune")
ROTATION = 0.1  # of a full turn, either way
ZOOM = 0.1  # relative, in or out


def random_view(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The `finetune` policy: an (H, W, 3) float image flipped, rotated and zoomed at random,
    as `seed` (an int64 pair) decides."""
    flip_seed, angle_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    angle = tf.random.stateless_uniform([], angle_seed, -ROTATION, ROTATION) * 2.0 * math.pi
    scale = 1.0 + tf.random.stateless_uniform([], zoom_seed, -ZOOM, ZOOM)
    height, width = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = scale * tf.cos(angle), scale * tf.sin(angle)
    # output pixel (x, y) samples the input at centre + scale · rotation · ((x, y) - centre)
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]


def views(image: tf.Tensor, image_seed: tf.Tensor, count: int, policy: str) -> tf.Tensor:
    """(count, H, W, 3): the image itself, then count - 1 views of it; view k of an image is the
    same wherever and whenever it is computed (`image_seed`: `seed_of` its content hash or id)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown view policy {policy!r}; choose from {POLICIES}")
    made = [image]
    for index in range(1, count):
        if policy == "flip":
            made.append(tf.image.flip_left_right(image))
        else:
            made.append(random_view(image, tf.stack([image_seed, tf.constant(index, tf.int64)])))
    return tf.stack(made)


def seed_of(key: str) -> int:
    """A stable 63-bit seed from an image's key: its file's content hash, or its id where there is
    none (its bytes, so any file name works)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") >> 1
