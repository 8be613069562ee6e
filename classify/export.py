"""`python -m classify.export` (`make export`): one deployable model per trained head.

Backbone + pooling + head fused into a single Keras model that maps a preprocessed image
(`extract.reading.images.preprocess`) to class probabilities, saved as `<out>/export/model.keras`
and a float32 `<out>/export/model.tflite`. The logistic-regression pipeline becomes a Dense
layer with its standardisation folded into the weights; a one-logit binary head becomes a
two-way softmax, so every export gives (N, K) probabilities. It classifies one view: heads
trained on a cache with VIEWS > 1 fuse the same way, and test-time augmentation is the caller's
mean over its own augmented inputs.
"""

import json
import sys

from classify.config import ExportConfig
from workflow import cli


def show(config: ExportConfig, paths) -> None:
    print("\n".join(str(p) for p in paths))
    agreement = json.loads(config.paths.export_record.read_text()).get("agreement_with_predict")
    if agreement:  # a head trained on an int8 cache
        same = ", ".join(
            f"{name} {100 * agreement[name]['same_class']:.1f}%"
            for name in (config.paths.export_tflite.name, config.paths.export_int8.name)
            if name in agreement
        )
        print(
            f"the head was trained on int8 features; model.tflite holds a float32 backbone: `make predict`'s class "
            f"on {agreement['rows']} choice rows ({agreement['split']}): {same}"
        )


main = cli.command(ExportConfig, "classify.fuse:export", show, prog="python -m classify.export", description=__doc__)

if __name__ == "__main__":
    sys.exit(main())
