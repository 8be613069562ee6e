"""ResNet50: caffe-style inputs, as its `preprocess_input` makes them: RGB to BGR, then each channel
less its ImageNet mean, unscaled.

Named sets: `last` is `conv5_block3_out` (2,048); `blocks` its four stages' outputs (3,840); `all`
every one of its 16 bottleneck blocks' outputs.
"""

from __future__ import annotations

from extract.backbones.base import Backbone

_STAGES = ((2, 3, 256), (3, 4, 512), (4, 6, 1024), (5, 3, 2048))  # (stage, blocks, width)
BLOCK_OUTPUTS = {f"conv{stage}_block{b}_out": width for stage, count, width in _STAGES for b in range(1, count + 1)}
STAGE_OUTPUTS = tuple(f"conv{stage}_block{count}_out" for stage, count, _ in _STAGES)


class ResNet50(Backbone):
    name = "resnet50"
    title = "ResNet50"
    model = "ResNet50(include_top=False, pooling=avg)"
    preprocessing = "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > bgr - imagenet mean (caffe)"
    image_size = 224
    widths = BLOCK_OUTPUTS
    sets = {"last": STAGE_OUTPUTS[-1:], "blocks": STAGE_OUTPUTS, "all": tuple(BLOCK_OUTPUTS)}
    fine_tune_at = "conv5_block1_1_conv"  # the last stage
    fine_tune_depths = ("conv4_block4_1_conv", "conv5_block1_1_conv")
    application, module = "ResNet50", "resnet50"  # its preprocess_input: caffe

    def imagenet_file(self, image_size: int) -> str:
        return "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
