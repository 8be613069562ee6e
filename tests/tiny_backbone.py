"""A backbone defined by the tests alone, to prove that a backbone is one module and a registry line:
three small convolutions, seeded random weights made in code, fine at 32 px. The unit tests that
need a backbone but not MobileNetV2 use it (`register` adds it to `extract.backbones`)."""

from __future__ import annotations

from pathlib import Path

from extract import backbones
from extract.backbones import Backbone

WIDTHS = {"tiny_block_1": 8, "tiny_block_2": 16, "tiny_out": 24}


class TinyNet(Backbone):
    name = "tiny_test"
    title = "TinyNet (tests)"
    model = "TinyNet(3 convolutions, tests only)"
    preprocessing = "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > x/255"
    image_size = 32
    min_size = 8
    widths = WIDTHS
    sets = {"last": ("tiny_out",), "blocks": tuple(WIDTHS), "all": tuple(WIDTHS)}
    fine_tune_at = "tiny_conv_2"
    fine_tune_depths = ("tiny_conv_2", "0.5")

    def construct(self, image_size: int, weights: str | None):
        import keras

        initializer = keras.initializers.GlorotUniform(seed=36)  # the same values in every process
        inputs = keras.Input((image_size, image_size, 3))
        x = inputs
        for number, (name, width) in enumerate(WIDTHS.items(), start=1):
            x = keras.layers.Conv2D(
                width,
                3,
                strides=1 if number == 3 else 2,
                padding="same",
                kernel_initializer=initializer,
                name=f"tiny_conv_{number}",
            )(x)
            x = keras.layers.BatchNormalization(name=f"tiny_bn_{number}")(x)
            x = keras.layers.ReLU(name=name)(x)
        model = keras.Model(inputs, x, name="tiny_test")
        if weights == "imagenet":
            raise ValueError("TinyNet has no ImageNet weights")
        if weights is not None:
            model.load_weights(weights)
        return model

    def preprocess(self, pixels):
        return pixels / 255.0

    def imagenet_file(self, image_size: int) -> str:
        return "tiny_test_has_no_imagenet_weights.h5"


def register() -> TinyNet:
    return backbones.register(TinyNet())


def tiny_weights(folder: Path, size: int = 32) -> Path:
    """TinyNet's seeded weights written as Keras writes them (a .weights.h5 file)."""
    path = folder / "tiny_test.weights.h5"
    TinyNet().construct(size, None).save_weights(path)
    return path
