"""The feature-source record: which backbone, how its inputs are scaled, which of its layers are
pooled into feature blocks, and each block's width. What a backbone's layers are and how they
are tapped is the backbone's own (`extract.backbones`); this module knows none of them.

A cache stores its record (`feature_source`, JSON); extraction, the engines, predict, export,
fine-tuning and the weights check build their backbone from it (`build`): one forward pass
whose output is every block, global-average-pooled and concatenated in the record's order.
Heads see that concatenation; `blocks` says which columns are which layer's.

`LAYERS=` names one of the backbone's sets (`last`, `blocks`, `all`) or is a comma list of the
layer names in its `widths`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from extract import backbones
from extract.backbones import DEFAULT, MAX_SIZE, POOL, Backbone
from workflow.errors import WorkflowError

# The default LAYERS: on images unlike ImageNet's the block outputs add 5 points and more over the
# last layer, extraction keeps 0.96-0.99x of last-only speed (`all`: 0.79-1.03x), and the heads'
# FEATURES=choose keeps the last layer where the blocks add nothing (BENCHMARKS.md, issue 21).
DEFAULT_LAYERS = "blocks"
NAMED_SETS = backbones.base.SET_NAMES
CONCATENATE = "blocks"  # the name of the layer `build` adds after the pooling, where it pools several


def backbone_layers(model) -> list:
    """A `build` model's layers, the backbone's own first in the backbone's order, then the pooling
    (and concatenation) it adds: Keras orders a multi-output model's layers by depth, which puts
    an early block's pooling among the backbone's. Fine-tuning depths count in this list."""
    added = [layer for layer in model.layers if layer.name.startswith(POOL) or layer.name == CONCATENATE]
    return [layer for layer in model.layers if layer not in added] + added


def source_of_model(model) -> FeatureSource:
    """The record a `build` model was built from (it is named `<backbone>_<blocks>_blocks`)."""
    return FeatureSource(layers_of(model), model.name.rsplit("_", 2)[0])


def layers_of(model) -> tuple[str, ...]:
    """The layers whose pooled outputs a `build` model concatenates, in its output's order."""
    if CONCATENATE not in {layer.name for layer in model.layers}:
        return tuple(layer.name.removeprefix(POOL) for layer in model.layers if layer.name.startswith(POOL))
    inputs = model.get_layer(CONCATENATE).input
    return tuple(tensor._keras_history.operation.name.removeprefix(POOL) for tensor in inputs)


class LayersError(WorkflowError, ValueError):
    """A LAYERS setting names no known layer set or layer, or a record names an unknown backbone."""


@dataclass(frozen=True)
class FeatureSource:
    layers: tuple[str, ...] | None = None  # None: the backbone's last layer
    backbone: str = DEFAULT

    def __post_init__(self):
        if self.layers is None:
            object.__setattr__(self, "layers", self.network.sets["last"])

    @property
    def network(self) -> Backbone:
        """The registered backbone the record names."""
        return backbones.named(self.backbone)

    @property
    def preprocessing(self) -> str:
        return self.network.preprocessing

    @property
    def min_size(self) -> int:
        return self.network.min_size

    @property
    def max_size(self) -> int:
        return MAX_SIZE

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(self.network.widths[layer] for layer in self.layers)

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
        network = self.network
        return (
            {"layers": list(self.layers), "backbone": self.backbone}
            | network.record
            | {"preprocessing": network.preprocessing, "min_size": network.min_size, "max_size": MAX_SIZE}
            | {"widths": list(self.widths)}
        )

    @classmethod
    def of_record(cls, record: dict) -> FeatureSource:
        """The record's layers and backbone; what else it says follows from the backbone."""
        return cls(tuple(record["layers"]), record.get("backbone", DEFAULT))

    def last_layer(self) -> FeatureSource:
        """The same backbone with only its last layer's block: what fine-tuning's tutorial recipe uses."""
        return FeatureSource(None, self.backbone)

    def build(self, weights: str | None, image_size: int):
        """The Keras model from image_size² inputs (scaled as `preprocessing` says) to the pooled
        blocks, concatenated in order: one forward pass. `weights` is as Keras's `weights=`."""
        import keras

        network = self.network
        base = network.construct(image_size, weights)
        pooled = [network.pooled(base, layer) for layer in self.layers]
        output = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name=CONCATENATE)(pooled)
        return keras.Model(base.input, output, name=f"{self.backbone}_{len(pooled)}_blocks")


def source_of(layers: str, backbone: str = DEFAULT) -> FeatureSource:
    """The record of a LAYERS setting on a backbone: a named set or a comma list of layer names."""
    network = backbones.named(backbone)
    if layers in network.sets:
        return FeatureSource(network.sets[layers], backbone)
    names = tuple(name.strip() for name in layers.split(",") if name.strip())
    for name in names:
        if name not in network.widths:
            near = difflib.get_close_matches(name, [*network.sets, *network.widths], n=3) or list(network.sets)
            raise LayersError(f"LAYERS: {backbone} has no layer or set {name!r}; nearest: {', '.join(near)}")
    if not names or len(set(names)) != len(names):
        raise LayersError(f"LAYERS must name {', '.join(network.sets)} or distinct layer names, got {layers!r}")
    return FeatureSource(names, backbone)


def source_in(record: dict) -> FeatureSource:
    """The record a cache (or a saved model's record of it) names; a cache made in Python without one
    holds the default backbone's last layer."""
    stored = record.get("feature_source")
    if stored and stored.get("backbone", DEFAULT) not in backbones.REGISTRY:
        raise LayersError(f"built on the backbone {stored['backbone']!r}, which this version does not know")
    return FeatureSource.of_record(stored) if stored else FeatureSource()


def recorded_source(record: dict, backbone: str | None, what: str) -> FeatureSource:
    """`source_in(record)`, where a stage's BACKBONE setting (None: unset) names the same backbone:
    a stage after extraction follows the cache, and BACKBONE only checks that it is the one meant."""
    source = source_in(record)
    if backbone is not None and backbone != source.backbone:
        raise LayersError(
            f"BACKBONE={backbone}, but {what} was built on {source.backbone}: build a cache of {backbone} "
            f"(make features BACKBONE={backbone}, in another OUT) or leave BACKBONE unset"
        )
    return source
