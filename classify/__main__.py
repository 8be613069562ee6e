"""`python -m classify` (`make heads`): train heads on the cached features."""

import sys

from classify.config import HeadConfig
from workflow import cli


def show(config: HeadConfig, metrics: dict) -> None:
    from classify.metrics import markdown_table

    shown = [name for head in config.heads for name in (head, f"{head}_tta") if name in metrics]
    print(markdown_table({name: metrics[name] for name in shown}))
    print(f"\nsaved to {config.paths.heads}/")
    change = metrics[config.heads[0]]["data_changed"]
    if change:
        print(f"warning: {change}; these heads use the cache as it was: run `make features`, then `make heads`")


main = cli.command(
    HeadConfig,
    "classify.train:run",
    show,
    prog="python -m classify",
    description="Train the heads HEADS names (logistic regression, Keras Dense and MLP heads, k nearest "
    "neighbours: classify/heads/) on the cached backbone features in <out>/features.h5 (train split), score "
    "them on every other split, and save models, metrics.json and learning curves in <out>/heads/.",
)

if __name__ == "__main__":
    sys.exit(main())
