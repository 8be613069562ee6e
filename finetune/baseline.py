"""`python -m finetune.baseline` (`make report BASELINE=1`): time the tutorial's recipe on the
cache's splits: a fresh Dense head trained with the frozen backbone inside `model.fit`, so
every epoch recomputes every image's features. Writes <out>/baseline/metrics.json, which
`make report` includes."""

import sys

from finetune.config import BaselineConfig
from workflow import cli


def show(config: BaselineConfig, metrics: dict) -> None:
    entry = metrics["tutorial"]
    scored = entry["protocol"]["score"]  # `test` when the cache has one, else `validation`
    print(
        f"tutorial recipe: {scored} accuracy {entry[scored]['accuracy']:.2%}, {entry['train_seconds']:.1f} s for "
        f"{entry['epochs_run']} epochs"
    )


main = cli.command(
    BaselineConfig, "finetune.tutorial:run", show, prog="python -m finetune.baseline", description=__doc__
)

if __name__ == "__main__":
    sys.exit(main())
