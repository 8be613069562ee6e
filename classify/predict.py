"""`python -m classify.predict` (`make predict`): classify new images with a trained model.

The images go through exactly what the model was trained on: the preprocessing, image size,
backbone weights and engine its record names (other weights are refused), in batches, through
the same decode pipeline as extraction. Unreadable files get a row with an error, never a crash.
"""

import sys

from classify.config import PredictConfig
from workflow import cli


def show(config: PredictConfig, counts) -> None:
    total = sum(counts.values())
    print(f"{config.paths.predictions}: {total} images, {counts.pop('', 0)} unreadable")
    for label, count in counts.most_common():
        print(f"  {label}: {count}")


main = cli.command(
    PredictConfig, "classify.prediction:predict", show, prog="python -m classify.predict", description=__doc__
)

if __name__ == "__main__":
    sys.exit(main())
