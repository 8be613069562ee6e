"""`python -m classify.export` (`make export`): one deployable model per trained head.

Backbone + pooling + head fused into a single Keras model that maps a preprocessed image
(`extract.images.preprocess`) to class probabilities, saved as `<out>/export/model.keras`
and a float32 `<out>/export/model.tflite`. The logistic-regression pipeline becomes a Dense
layer with its standardisation folded into the weights; a one-logit binary head becomes a
two-way softmax, so every export gives (N, K) probabilities. It classifies one view: heads
trained on a cache with VIEWS > 1 fuse the same way, and test-time augmentation is the caller's
mean over its own augmented inputs.
"""

import sys

from classify.config import ExportConfig
from workflow import cli


def show(config: ExportConfig, paths) -> None:
    print("\n".join(str(p) for p in paths))


main = cli.command(ExportConfig, "classify.fuse:export", show, prog="python -m classify.export", description=__doc__)

if __name__ == "__main__":
    sys.exit(main())
