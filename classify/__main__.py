"""`python -m classify`: train heads on the cached features (`make heads`)."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from classify.config import HeadConfig  # noqa: E402

D = HeadConfig()


def parse_args(argv=None) -> tuple[HeadConfig, int]:
    parser = argparse.ArgumentParser(
        prog="python -m classify",
        description="Train a Keras Dense head and a scikit-learn logistic regression on the cached "
        "MobileNetV2 features in <out>/features.h5 (train split), score them on every other split, and "
        "save models, metrics.json and a learning curve in <out>/heads/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", default=D.out, help="folder holding features.h5; heads go to <out>/heads")
    parser.add_argument("--head", default=D.head, choices=("all", "logreg", "dense"), help="which heads to train")
    dense = parser.add_argument_group("Dense head (Keras)")
    dense.add_argument("--epochs", type=int, default=D.epochs, help="most epochs (early stopping may end sooner)")
    dense.add_argument("--batch", type=int, default=D.batch, help="batch size")
    dense.add_argument("--learning-rate", type=float, default=D.learning_rate, help="RMSprop learning rate")
    dense.add_argument("--dropout", type=float, default=D.dropout, help="dropout before each Dense layer")
    dense.add_argument("--hidden", type=int, default=D.hidden, help="units of a ReLU hidden layer (0: none)")
    dense.add_argument("--patience", type=int, default=D.patience,
                       help="stop after this many epochs without a better validation loss; the best epoch is kept")
    logreg = parser.add_argument_group("logistic regression (scikit-learn)")
    logreg.add_argument("--cs", type=lambda s: [float(c) for c in s.split(",")], default=D.cs,
                        help="comma-separated inverse regularisation strengths C to cross-validate")
    logreg.add_argument("--folds", type=int, default=D.folds, help="stratified cross-validation folds")
    logreg.add_argument("--jobs", type=int, default=D.jobs, help="parallel workers for the search (-1: all cores)")
    parser.add_argument("--seed", type=int, default=D.seed, help="random seed for both heads")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras progress output")
    args = vars(parser.parse_args(argv))
    verbose = args.pop("verbose")
    return HeadConfig(**args), verbose


def main(argv=None) -> int:
    try:
        config, verbose = parse_args(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    import cache
    from classify import runner
    from classify.heads import HeadError
    from classify.metrics import markdown_table

    try:
        metrics = runner.run(config, verbose)
    except (cache.CacheError, HeadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(markdown_table({name: metrics[name] for name in config.heads}))
    print(f"\nsaved to {config.heads_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
