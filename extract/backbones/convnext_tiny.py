"""ConvNeXt-Tiny: its inputs are [0, 255] pixels, normalised inside the Keras model
(`include_preprocessing=True`), so its `preprocess_input` leaves them as they are.

Its blocks' outputs are residual sums, which Keras does not name: a block's output is tapped as
the input of the layer after it (the next block's depthwise convolution, a downsampling, or the
final LayerNormalization), under names of this module's. `last` is Keras's own pooled output:
the last stage's output averaged, then that final LayerNormalization (768 values).

Named sets: `blocks` the first three stages' outputs and `last` (1,440); `all` every block's output
(18) and `last`.
"""

from __future__ import annotations

from extract.backbones.base import POOL, Backbone

PREFIX = "convnext_tiny"
_STAGES = ((3, 96), (3, 192), (9, 384), (3, 768))  # (blocks, width)
BLOCK_OUTPUTS = {
    f"{PREFIX}_stage_{stage}_block_{block}_output": width
    for stage, (count, width) in enumerate(_STAGES)
    for block in range(count)
}
STAGE_OUTPUTS = tuple(f"{PREFIX}_stage_{stage}_block_{count - 1}_output" for stage, (count, _) in enumerate(_STAGES))
LAST = f"{PREFIX}_head_layernorm"


class ConvNeXtTiny(Backbone):
    name = "convnext_tiny"
    title = "ConvNeXt-Tiny"
    model = "ConvNeXtTiny(include_top=False, include_preprocessing=True, pooling=avg)"
    preprocessing = (
        "decode_image(rgb, first frame) > resize(bilinear, antialias=False) > x (0-255, normalised in the model)"
    )
    image_size = 224
    widths = BLOCK_OUTPUTS | {LAST: 768}
    sets = {"last": (LAST,), "blocks": (*STAGE_OUTPUTS[:3], LAST), "all": (*BLOCK_OUTPUTS, LAST)}
    fine_tune_at = f"{PREFIX}_downsampling_block_2"  # the last stage
    fine_tune_depths = (f"{PREFIX}_stage_2_block_4_depthwise_conv", f"{PREFIX}_downsampling_block_2")
    # its preprocess_input leaves the pixels as they are: the model normalises them
    application, module, settings = "ConvNeXtTiny", "convnext", {"include_preprocessing": True}

    def imagenet_file(self, image_size: int) -> str:
        return "convnext_tiny_notop.h5"

    def tapped(self, base, layer: str):
        if layer == LAST:
            return base.layers[-1].input  # the last stage's output, before the final LayerNormalization
        stage, block = (
            int(part) for part in layer.removeprefix(f"{PREFIX}_stage_").removesuffix("_output").split("_block_")
        )
        blocks = _STAGES[stage][0]
        if block + 1 < blocks:
            return base.get_layer(f"{PREFIX}_stage_{stage}_block_{block + 1}_depthwise_conv").input
        if stage + 1 < len(_STAGES):
            return base.get_layer(f"{PREFIX}_downsampling_block_{stage}").input
        return base.layers[-1].input

    def pooled(self, base, layer: str):
        if layer != LAST:
            return super().pooled(base, layer)
        import keras

        # Keras's pooling="avg": average, then its final LayerNormalization (on the pooled vector)
        averaged = keras.layers.GlobalAveragePooling2D(name=f"average_{LAST}")(self.tapped(base, layer))
        return keras.layers.Identity(name=f"{POOL}{layer}")(base.layers[-1](averaged))
