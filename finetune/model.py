"""The fine-tuning model: the backbone (top layers trainable, its normalisation frozen in inference
mode) under the Dense head trained on the cache. Backend-neutral Keras."""

from __future__ import annotations

import difflib

import keras

from extract.network.feature_source import backbone_layers, source_of_model


def build_finetune_model(base: keras.Model, head: keras.Model, fine_tune_at: str | None) -> keras.Model:
    """`base` (the backbone, `extract.network.backbone.matching_backbone`) under `head`, used as given (the
    saved Dense head: training starts from it). `fine_tune_at=None` freezes the whole base, as
    the tutorial's first phase does; else `depth` says where training starts. Augmentation happens
    in the input pipeline (`finetune.data.image_dataset`), with the cache's own views' implementation."""
    unfreeze_from(base, fine_tune_at)
    inputs = keras.Input(base.input_shape[1:], name="image")
    # The tutorial's training=False; under Keras 3 it is not enough on its own (unfreeze_from).
    x = base(inputs, training=False)
    return keras.Model(inputs, head(x), name=f"{source_of_model(base).backbone}_finetuned")


def depth(base: keras.Model, fine_tune_at: str) -> int:
    """How many of the base's layers (`backbone_layers`, in the backbone's order) stay frozen for a
    FINE_TUNE_AT setting: a layer's name (training starts at it), a fraction of the layers below 1
    (0.65: the top 35% train), or an index."""
    layers = backbone_layers(base)
    names = [layer.name for layer in layers]
    if fine_tune_at in names:
        return names.index(fine_tune_at)
    try:
        value = float(fine_tune_at)
    except ValueError:
        near = difflib.get_close_matches(fine_tune_at, names, n=3)
        backbone = source_of_model(base).backbone
        raise ValueError(
            f"fine-tuning depth {fine_tune_at!r}: {backbone} has no such layer"
            + (f"; nearest: {', '.join(near)}" if near else "; give a layer name, a fraction or an index")
        ) from None
    index = round(value * len(layers)) if 0 <= value < 1 else int(value)
    if value < 0 or index > len(layers) or (value >= 1 and not value.is_integer()):
        raise ValueError(
            f"fine-tuning depth {fine_tune_at!r} is not a fraction below 1 or an index up to {len(layers)}"
        )
    return index


def unfreeze_from(base: keras.Model, fine_tune_at: str | None) -> None:
    if fine_tune_at is None:
        base.trainable = False
        return
    layers = backbone_layers(base)
    frozen = depth(base, fine_tune_at)
    base.trainable = True
    for layer in layers[:frozen]:
        layer.trainable = False
    # Keras 3's Functional call passes fit()'s training=True down to every layer, over the
    # training=False given when the base was called, so BatchNorm would update its moving
    # statistics (tests/test_finetune.py catches it). A frozen BatchNorm runs in inference mode
    # whatever it is told; its scale and offset stay the pretrained ones too. Which layers those
    # are is the backbone's to say.
    network = source_of_model(base).network
    for layer in base.layers:
        if network.frozen_in_training(layer):
            layer.trainable = False
