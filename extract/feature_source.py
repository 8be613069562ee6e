"""The feature-source record: which backbone, how its inputs are scaled, which of its layers are
pooled into feature blocks, and each block's width. The one place that knows MobileNetV2's
layer names.

A cache stores its record (`feature_source`, JSON); extraction, the engines, predict, export,
fine-tuning and the weights check build their backbone from it (`build`): one forward pass
whose output is every block, global-average-pooled and concatenated in the record's order.
Heads see that concatenation; `blocks` says which columns are which layer's.

Named sets of layers (`LAYERS=`):
- `last`: `out_relu`, 1,280 values (the classic cache).
- `blocks`: the output of each of the 17 inverted-residual blocks (the `_add` where the block
  has a residual connection, else its projection) and `out_relu`: 2,784 values.
- `all`: `blocks` plus the expansion layers of blocks 11 to 16 (the widest, 576 and 960):
  24 layers, 7,392 values, Head2Toe's prototype set (issue 21).
Or a comma list of the layer names in `WIDTHS`.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass

from workflow.errors import WorkflowError

BACKBONE = "mobilenet_v2"
ALPHA = 1.0
PREPROCESSING = "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > x/127.5-1"
MIN_SIZE, MAX_SIZE = 32, 1024  # MobileNetV2's smallest input; the largest this project allows

# Each block's output: the residual sum where the block has one, else its projection.
_RESIDUAL = {2, 4, 5, 7, 8, 9, 11, 12, 14, 15}
_BLOCK_WIDTHS = (16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320)
BLOCK_OUTPUTS = {
    ("expanded_conv_project_BN" if n == 0 else f"block_{n}_add" if n in _RESIDUAL else f"block_{n}_project_BN"): width
    for n, width in enumerate(_BLOCK_WIDTHS)
}
# A block's expansion is six times its input's width.
EXPANSIONS = {f"block_{n}_expand_relu": 6 * _BLOCK_WIDTHS[n - 1] for n in range(1, 17)}
LAST = "out_relu"
WIDTHS = BLOCK_OUTPUTS | EXPANSIONS | {LAST: 1280}  # every layer a block may name, with its pooled width

NAMED_SETS = {
    "last": (LAST,),
    "blocks": (*BLOCK_OUTPUTS, LAST),
    "all": (*BLOCK_OUTPUTS, *(f"block_{n}_expand_relu" for n in range(11, 17)), LAST),
}


# The default LAYERS: on images unlike ImageNet's the block outputs add 5 points and more over the
# last layer, extraction keeps 0.96-0.99x of last-only speed (`all`: 0.79-1.03x), and the heads'
# FEATURES=choose keeps the last layer where the blocks add nothing (BENCHMARKS.md, issue 21).
DEFAULT_LAYERS = "blocks"

POOL, CONCATENATE = "pool_", "blocks"  # names of the layers `build` adds after the backbone's


def backbone_layers(model) -> list:
    """A `build` model's layers, the backbone's own first in the backbone's order, then the pooling
    (and concatenation) it adds: Keras orders a multi-output model's layers by depth, which puts
    an early block's pooling among the backbone's. Layer indices (FINE_TUNE_AT) count in this list."""
    added = [layer for layer in model.layers if layer.name.startswith(POOL) or layer.name == CONCATENATE]
    return [layer for layer in model.layers if layer not in added] + added


def layers_of(model) -> tuple[str, ...]:
    """The layers whose pooled outputs a `build` model concatenates, in its output's order."""
    if CONCATENATE not in {layer.name for layer in model.layers}:
        pools = [layer.name for layer in model.layers if layer.name.startswith(POOL)]
        return tuple(name.removeprefix(POOL) for name in pools) or (LAST,)  # one block (or Keras's own pooling)
    inputs = model.get_layer(CONCATENATE).input
    return tuple(tensor._keras_history.operation.name.removeprefix(POOL) for tensor in inputs)


class LayersError(WorkflowError, ValueError):
    """A LAYERS setting names no known layer set or layer."""


@dataclass(frozen=True)
class FeatureSource:
    layers: tuple[str, ...] = (LAST,)
    backbone: str = BACKBONE
    alpha: float = ALPHA
    preprocessing: str = PREPROCESSING
    min_size: int = MIN_SIZE
    max_size: int = MAX_SIZE

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(WIDTHS[layer] for layer in self.layers)

    @property
    def width(self) -> int:
        """Values per image: every block's, concatenated."""
        return sum(self.widths)

    @property
    def blocks(self) -> dict[str, int]:
        """{block name (its layer's): width}, in the record's (and the columns') order."""
        return dict(zip(self.layers, self.widths, strict=True))

    def to_record(self) -> dict:
        """What a cache stores (JSON), widths included so that readers need not know the backbone."""
        return asdict(self) | {"layers": list(self.layers), "widths": list(self.widths)}

    @classmethod
    def of_record(cls, record: dict) -> FeatureSource:
        fields = {key: value for key, value in record.items() if key != "widths"}
        return cls(**fields | {"layers": tuple(fields["layers"])})

    def last_layer(self) -> FeatureSource:
        """The same backbone with only its last layer's block: what fine-tuning's tutorial recipe uses."""
        return FeatureSource(**asdict(self) | {"layers": (LAST,)})

    def build(self, weights: str | None, image_size: int):
        """The Keras model from image_size² inputs (scaled as `preprocessing` says) to the pooled
        blocks, concatenated in order: one forward pass. `weights` is as Keras's `weights=`."""
        import keras

        if self.backbone != BACKBONE or self.alpha != ALPHA:
            raise LayersError(f"this version builds {BACKBONE} alpha {ALPHA} only, not {self.backbone} {self.alpha}")
        base = keras.applications.MobileNetV2(
            input_shape=(image_size, image_size, 3), alpha=self.alpha, include_top=False, weights=weights
        )
        pooled = [
            keras.layers.GlobalAveragePooling2D(name=f"{POOL}{layer}")(base.get_layer(layer).output)
            for layer in self.layers
        ]
        output = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name=CONCATENATE)(pooled)
        return keras.Model(base.input, output, name=f"{BACKBONE}_{len(pooled)}_blocks")


def source_of(layers: str) -> FeatureSource:
    """The record of a LAYERS setting: a named set or a comma list of layer names."""
    if layers in NAMED_SETS:
        return FeatureSource(NAMED_SETS[layers])
    names = tuple(name.strip() for name in layers.split(",") if name.strip())
    for name in names:
        if name not in WIDTHS:
            near = difflib.get_close_matches(name, [*NAMED_SETS, *WIDTHS], n=3) or list(NAMED_SETS)
            raise LayersError(f"LAYERS: no layer or set {name!r}; nearest: {', '.join(near)}")
    if not names or len(set(names)) != len(names):
        raise LayersError(f"LAYERS must name {', '.join(NAMED_SETS)} or distinct layer names, got {layers!r}")
    return FeatureSource(names)


def source_in(record: dict) -> FeatureSource:
    """The record a cache (or a saved model's record of it) names; a cache made in Python without one
    holds the last layer."""
    stored = record.get("feature_source")
    return FeatureSource.of_record(stored) if stored else FeatureSource()
