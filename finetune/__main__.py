"""`python -m finetune` (`make finetune`): fine-tune MobileNetV2 end to end, warm-started from the Dense head."""

import sys

from finetune.config import FinetuneConfig
from workflow import cli


def show(config: FinetuneConfig, metrics: dict) -> None:
    from classify.metrics import markdown_table

    print(markdown_table(metrics))
    print(f"\nsaved to {config.paths.finetune}/")


main = cli.command(
    FinetuneConfig,
    "finetune.tune:run",
    show,
    prog="python -m finetune",
    description="Fine-tune MobileNetV2 end to end on the images behind <out>/features.h5 (the same "
    "train/validation/test files), starting from the Dense head of `make heads`: layers from --fine-tune-at "
    "upwards are trained, BatchNorm stays in inference mode, at the head's learning rate / 10. An interrupted "
    "run resumes from its last finished epoch. Writes <out>/finetune/.",
)

if __name__ == "__main__":
    sys.exit(main())
