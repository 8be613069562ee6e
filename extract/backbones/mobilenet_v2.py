"""MobileNetV2 (alpha 1.0): the default backbone, and the tutorial's.

Named sets of layers (`LAYERS=`):
- `last`: `out_relu`, 1,280 values (the classic cache).
- `blocks`: the output of each of the 17 inverted-residual blocks (the `_add` where the block
  has a residual connection, else its projection) and `out_relu`: 2,784 values.
- `all`: `blocks` plus the expansion layers of blocks 11 to 16 (the widest, 576 and 960):
  24 layers, 7,392 values, Head2Toe's prototype set (issue 21).
"""

from __future__ import annotations

from extract.backbones.base import Backbone

ALPHA = 1.0
# Keras ships ImageNet MobileNetV2 weights for these input sides and loads 224's otherwise.
KERAS_IMAGENET_SIZES = (96, 128, 160, 192, 224)

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


class MobileNetV2(Backbone):
    name = "mobilenet_v2"
    title = "MobileNetV2"
    model = "MobileNetV2(alpha=1.0, include_top=False, pooling=avg)"
    preprocessing = "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > x/127.5-1"
    image_size = 160
    widths = BLOCK_OUTPUTS | EXPANSIONS | {LAST: 1280}
    sets = {
        "last": (LAST,),
        "blocks": (*BLOCK_OUTPUTS, LAST),
        "all": (*BLOCK_OUTPUTS, *(f"block_{n}_expand_relu" for n in range(11, 17)), LAST),
    }
    # The tutorial's FINE_TUNE_AT=100 and the search's 130 of the 155 layers (pooling included),
    # by the layer they start at, so that they mean the same whatever follows the backbone.
    fine_tune_at = "block_11_expand_relu"
    fine_tune_depths = ("block_11_expand_relu", "block_14_depthwise_relu")
    record = {"alpha": ALPHA}
    application, module, settings = "MobileNetV2", "mobilenet_v2", {"alpha": ALPHA}  # x / 127.5 - 1

    def imagenet_file(self, image_size: int) -> str:
        rows = image_size if image_size in KERAS_IMAGENET_SIZES else 224
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5"
