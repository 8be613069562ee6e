"""The fine-tuning model: MobileNetV2 (top layers trainable, BatchNorm in inference mode) under the
Dense head trained on the cache. Backend-neutral Keras."""

from __future__ import annotations

import keras

from extract.feature_source import backbone_layers


def build_finetune_model(base: keras.Model, head: keras.Model, fine_tune_at: int | None) -> keras.Model:
    """`base` (the backbone, `extract.backbone.matching_backbone`) under `head`, used as given (the
    saved Dense head: training starts from it). `fine_tune_at=None` freezes the whole base, as
    the tutorial's first phase does. Augmentation happens in the input pipeline
    (`finetune.data.image_dataset`), with the cache's own views' implementation."""
    unfreeze_from(base, fine_tune_at)
    inputs = keras.Input(base.input_shape[1:], name="image")
    # The tutorial's training=False; under Keras 3 it is not enough on its own (unfreeze_from).
    x = base(inputs, training=False)
    return keras.Model(inputs, head(x), name="mobilenet_v2_finetuned")


def unfreeze_from(base: keras.Model, fine_tune_at: int | None) -> None:
    if fine_tune_at is None:
        base.trainable = False
        return
    layers = backbone_layers(base)  # MobileNetV2's own, in its order: FINE_TUNE_AT counts these
    if fine_tune_at > len(layers):
        raise ValueError(f"fine_tune_at {fine_tune_at} is past the base's {len(layers)} layers")
    base.trainable = True
    for layer in layers[:fine_tune_at]:
        layer.trainable = False
    # Keras 3's Functional call passes fit()'s training=True down to every layer, over the
    # training=False given when the base was called, so BatchNorm would update its moving
    # statistics (tests/test_finetune.py catches it). A frozen BatchNorm runs in inference mode
    # whatever it is told; its scale and offset stay the pretrained ones too.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
