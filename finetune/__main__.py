"""`python -m finetune`: fine-tune MobileNetV2 end to end, warm-started from the Dense head (`make finetune`)."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from finetune.config import FinetuneConfig  # noqa: E402

D = FinetuneConfig()


def parse_args(argv=None) -> tuple[FinetuneConfig, int]:
    parser = argparse.ArgumentParser(
        prog="python -m finetune",
        description="Fine-tune MobileNetV2 end to end on the images behind <out>/features.h5 (the same "
        "train/validation/test files), starting from the Dense head of `make heads`: layers from "
        "--fine-tune-at upwards are trained, BatchNorm stays in inference mode, at the head's learning "
        "rate / 10. An interrupted run resumes from its last finished epoch. Writes <out>/finetune/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", default=D.out, help="folder holding features.h5 and heads/")
    parser.add_argument("--weights", default=D.weights, help="backbone weights: the ones the cache was built with")
    parser.add_argument("--fine-tune-at", type=int, default=D.fine_tune_at,
                        help="train MobileNetV2's layers from this index up (of 155)")
    parser.add_argument("--epochs", type=int, default=D.epochs, help="fine-tuning epochs")
    parser.add_argument("--batch", type=int, default=D.batch, help="batch size")
    parser.add_argument("--learning-rate", type=float, default=D.learning_rate,
                        help="RMSprop learning rate (default: the Dense head's / 10)")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="no random flip, rotation and zoom of training images")
    parser.add_argument("--seed", type=int, default=D.seed, help="random seed")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    args = vars(parser.parse_args(argv))
    verbose = args.pop("verbose")
    return FinetuneConfig(**args), verbose


def main(argv=None) -> int:
    try:
        config, verbose = parse_args(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    import cache
    from classify.metrics import markdown_table
    from extract.backbone import WeightsError
    from extract.sources import DataError
    from finetune import runner

    try:
        metrics = runner.run(config, verbose)
    except (cache.CacheError, DataError, WeightsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(markdown_table(metrics))
    print(f"\nsaved to {config.directory}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
