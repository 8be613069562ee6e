"""What every backbone is: a frozen `keras.applications` network, named once, with everything the
stages need to know about it. One module per backbone (`extract.backbones`), none of it imported by
the rest of the code by name: every stage asks the registry for the backbone a cache records.

A backbone owns:
- its constructor (`construct`: `keras.applications`, without its top) and the file Keras
  downloads for `WEIGHTS=imagenet` (`imagenet_file`);
- its preprocessing (`preprocess`), exactly `keras.applications`' `preprocess_input` for it,
  applied after the common decode and bilinear resize (`extract.reading.images`);
- the layers a cache may pool (`widths`), its named sets for `LAYERS` (`last`, `blocks`, `all`),
  and how a layer is tapped and pooled (`pooled`);
- its default and smallest input side;
- fine-tuning's depths: the default and the candidates the search tries, as layer names or
  fractions of its layers (`finetune.model` resolves them), and the normalisation layers kept
  frozen in inference mode (`frozen_in_training`).

Nothing here imports Keras or TensorFlow at import time: the quick up-to-date check and every
`--help` name backbones without loading them.
"""

from __future__ import annotations

from typing import ClassVar

from workflow.errors import WorkflowError

POOL = "pool_"  # the pooling layers `extract.network.feature_source` adds after a backbone's own are named so
MAX_SIZE = 1024  # the largest input side this project allows, whatever the backbone
SET_NAMES = ("last", "blocks", "all")


class BackboneError(WorkflowError, ValueError):
    """A backbone that is not registered, or a backbone definition that does not hold together."""


class Backbone:
    name: ClassVar[str]  # BACKBONE=, and how a cache records it
    title: ClassVar[str]  # how messages and the report name it
    model: ClassVar[str]  # the cache's `model` attribute: the constructor and its settings
    preprocessing: ClassVar[str]  # what `preprocess` does, in words, recorded in every cache
    image_size: ClassVar[int]  # the default IMG_SIZE
    min_size: ClassVar[int] = 32  # the smallest input side its constructor takes
    widths: ClassVar[dict[str, int]]  # every layer a feature block may name, with its pooled width
    sets: ClassVar[dict[str, tuple[str, ...]]]  # LAYERS=last, blocks, all
    fine_tune_at: ClassVar[str]  # the tutorial recipe's depth: a layer name or a fraction of the layers
    fine_tune_depths: ClassVar[tuple[str, ...]]  # the depths the searched recipe tries
    record: ClassVar[dict] = {}  # settings of the network the cache's feature-source record keeps
    application: ClassVar[str]  # the `keras.applications` constructor, by name
    module: ClassVar[str]  # the `keras.applications` module whose `preprocess_input` is the network's
    settings: ClassVar[dict] = {}  # the constructor's arguments beside the input shape, top and weights

    @property
    def last(self) -> str:
        return self.sets["last"][-1]

    def construct(self, image_size: int, weights: str | None):
        """The `keras.applications` network without its top, image_size² inputs; `weights` as Keras's."""
        import keras

        constructor = getattr(keras.applications, self.application)
        shape = (image_size, image_size, 3)
        return constructor(input_shape=shape, include_top=False, weights=weights, **self.settings)

    def preprocess(self, pixels):
        """[0, 255] float RGB pixels (a tf.Tensor, after the resize) to the network's input: exactly
        its `keras.applications` `preprocess_input`."""
        import keras

        return getattr(keras.applications, self.module).preprocess_input(pixels)

    def imagenet_file(self, image_size: int) -> str:
        """The name of the file Keras downloads (into $KERAS_HOME/models) for WEIGHTS=imagenet."""
        raise NotImplementedError

    def tapped(self, base, layer: str):
        """The tensor of `base` (built by `construct`) a feature block named `layer` pools."""
        return base.get_layer(layer).output

    def pooled(self, base, layer: str):
        """`layer`'s tensor global-average-pooled, in a layer named POOL + layer."""
        import keras

        return keras.layers.GlobalAveragePooling2D(name=f"{POOL}{layer}")(self.tapped(base, layer))

    def frozen_in_training(self, layer) -> bool:
        """Whether fine-tuning keeps this layer frozen, so that it runs in inference mode (BatchNorm:
        its moving statistics and its scale and offset stay the pretrained ones)."""
        import keras

        return isinstance(layer, keras.layers.BatchNormalization)

    def check(self) -> None:
        """The definition holds together: every set names known layers, `last` is one layer."""
        if tuple(self.sets) != SET_NAMES or len(self.sets["last"]) != 1:
            raise BackboneError(f"backbone {self.name}: sets must be {', '.join(SET_NAMES)}, `last` one layer")
        unknown = [layer for names in self.sets.values() for layer in names if layer not in self.widths]
        if unknown:
            raise BackboneError(f"backbone {self.name}: sets name layers without a width: {', '.join(unknown)}")
