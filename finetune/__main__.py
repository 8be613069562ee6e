"""`python -m finetune` (`make finetune`): fine-tune the cache's backbone, warm-started from a cached head."""

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
    description="Fine-tune the cache's backbone end to end on the images behind <out>/features.h5 (the same "
    "train/validation/test files), BatchNorm in inference mode. The searched recipe (the default) starts from the "
    "head of `make heads` with the lowest loss on the choice rows, chooses the learning rate and depth by a short "
    "search on those rows, then trains with warm-up and cosine decay; --recipe tutorial starts from the Dense head "
    "and trains layers from --fine-tune-at up at its learning rate / 10. The start itself is epoch 0, a candidate "
    "for the best epoch. An interrupted run resumes from its last finished epoch. Writes <out>/finetune/.",
)

if __name__ == "__main__":
    sys.exit(main())
