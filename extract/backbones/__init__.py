"""The backbones, one module each, and the registry every stage reads them from: adding a backbone
is one module (a `extract.backbones.base.Backbone`) and one entry below. A cache records the name of
the one it was built on (`extract.network.feature_source`); later stages take that one from here."""

from __future__ import annotations

import difflib

from extract.backbones.base import MAX_SIZE, POOL, Backbone, BackboneError
from extract.backbones.convnext_tiny import ConvNeXtTiny
from extract.backbones.efficientnet_v2_b0 import EfficientNetV2B0
from extract.backbones.mobilenet_v2 import MobileNetV2
from extract.backbones.resnet50 import ResNet50

DEFAULT = MobileNetV2.name
REGISTRY: dict[str, Backbone] = {}


def register(backbone: Backbone) -> Backbone:
    """Add a backbone (tests register their own); a second one of the same name is refused."""
    backbone.check()
    if backbone.name in REGISTRY and type(REGISTRY[backbone.name]) is not type(backbone):
        raise BackboneError(f"a backbone named {backbone.name} is registered already")
    REGISTRY[backbone.name] = backbone
    return backbone


for _backbone in (MobileNetV2(), EfficientNetV2B0(), ResNet50(), ConvNeXtTiny()):
    register(_backbone)


def named(name: str) -> Backbone:
    """The registered backbone of that name, or one line naming the nearest."""
    if name not in REGISTRY:
        near = difflib.get_close_matches(name, list(REGISTRY), n=3) or list(REGISTRY)
        raise BackboneError(f"BACKBONE: no backbone {name!r}; known: {', '.join(near)}")
    return REGISTRY[name]


HELP = (
    "the frozen network (extract/backbones/): "
    + ", ".join(f"{name} ({backbone.image_size} px)" for name, backbone in REGISTRY.items())
    + "; later stages take the one the cache records"
)
# the BACKBONE setting of every stage after extraction: a check, never a choice
CHECK_HELP = "the backbone the cache must have been built on (make features BACKBONE=...); unset: the one it records"

__all__ = [
    "CHECK_HELP",
    "DEFAULT",
    "HELP",
    "MAX_SIZE",
    "POOL",
    "REGISTRY",
    "Backbone",
    "BackboneError",
    "named",
    "register",
]
