"""EfficientNetV2-B0: its inputs are [0, 255] pixels, rescaled inside the Keras model
(`include_preprocessing=True`), so its `preprocess_input` leaves them as they are.

Named sets: `last` is `top_activation` (1,280); `blocks` each of its six stages' last block and
`top_activation` (1,776); `all` every block's output (the residual `_add`, else the projection) and
`top_activation`.
"""

from __future__ import annotations

from extract.backbones.base import Backbone

# (stage, blocks, width); stage 1's one block ends in an activation, the others' first block in its
# projection (no residual: the width or stride changes) and the rest in a residual sum.
_STAGES = ((1, 1, 16), (2, 2, 32), (3, 2, 48), (4, 3, 96), (5, 5, 112), (6, 8, 192))
_LETTERS = "abcdefgh"


def _output(stage: int, block: int) -> str:
    if stage == 1:
        return "block1a_project_activation"
    return f"block{stage}{_LETTERS[block]}_{'project_bn' if block == 0 else 'add'}"


BLOCK_OUTPUTS = {_output(stage, b): width for stage, count, width in _STAGES for b in range(count)}
STAGE_OUTPUTS = tuple(_output(stage, count - 1) for stage, count, _ in _STAGES)
LAST = "top_activation"


class EfficientNetV2B0(Backbone):
    name = "efficientnet_v2_b0"
    title = "EfficientNetV2-B0"
    model = "EfficientNetV2B0(include_top=False, include_preprocessing=True, pooling=avg)"
    preprocessing = (
        "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > x (0-255, scaled in the model)"
    )
    image_size = 224
    widths = BLOCK_OUTPUTS | {LAST: 1280}
    sets = {"last": (LAST,), "blocks": (*STAGE_OUTPUTS, LAST), "all": (*BLOCK_OUTPUTS, LAST)}
    fine_tune_at = "block6a_expand_conv"  # the last stage and the top
    fine_tune_depths = ("block5a_expand_conv", "block6a_expand_conv")
    # its preprocess_input leaves the pixels as they are: the model scales them
    application, module, settings = "EfficientNetV2B0", "efficientnet_v2", {"include_preprocessing": True}

    def imagenet_file(self, image_size: int) -> str:
        return "efficientnetv2-b0_notop.h5"
