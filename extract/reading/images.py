"""Decode, resize and scale images: the one preprocessing implementation every stage uses.

The reference is TensorFlow's transfer-learning tutorial: decode to RGB, plain bilinear
`tf.image.resize` (no antialiasing) to a square, then the backbone's own scaling (its
`keras.applications` `preprocess_input`: `extract.backbones`).
"""

from __future__ import annotations

import re

import tensorflow as tf

from extract import backbones


def decode(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP/WebP bytes to a uint8 RGB image (grey expanded, alpha dropped)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """To size×size float32 pixels in [0, 255]."""
    return tf.image.resize(image, (size, size), method="bilinear", antialias=False)


def preprocess(encoded: tf.Tensor, size: int, backbone: str) -> tf.Tensor:
    """Encoded bytes to one input of the named backbone."""
    return backbones.named(backbone).preprocess(resize(decode(encoded), size))


def decode_error(encoded: bytes, size: int) -> str | None:
    """Why `preprocess` fails on these bytes, in one line, or None if it does not."""
    if len(encoded) == 0:
        return "empty file"
    try:
        resize(decode(tf.constant(encoded)), size)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as err:
        return _one_line(err.message)
    return None


def _one_line(message: str) -> str:
    """TensorFlow's messages carry op names and graph context; keep the human part."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[Op:[^\]]*\].*", "", message, flags=re.S)
    return message.strip().splitlines()[0] if message.strip() else "undecodable image"
