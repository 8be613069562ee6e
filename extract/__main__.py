"""`python -m extract` (`make features`): build the HDF5 feature cache."""

import sys

from extract.config import ExtractConfig
from workflow import cli

SHOWN = 10  # skipped and damaged files listed per split


def show(config: ExtractConfig, summary) -> None:
    print(f"{summary.path}: {summary.status}")
    print(f"{'split':<12}{'images':>8}{'skipped':>9}{'extracted':>11}{'seconds':>9}{'img/s':>8}")
    for s in summary.splits:
        print(f"{s.split:<12}{s.images:>8}{len(s.skipped):>9}{s.extracted:>11}{s.seconds:>9.1f}{s.images_per_s:>8.0f}")
    for s in summary.splits:
        if s.empty_classes:
            print(f"warning: no {s.split} images of class {', '.join(s.empty_classes)}")
        for item, reason in s.skipped[:SHOWN]:
            print(f"skipped {item}: {reason}")
        if len(s.skipped) > SHOWN:
            print(f"... and {len(s.skipped) - SHOWN} more in {s.split} (cache.skipped(path, {s.split!r}))")
        for item, warning in list(s.warnings.items())[:SHOWN]:
            print(f"kept {item}, though its data is damaged: {warning}")
        if len(s.warnings) > SHOWN:
            print(f"... and {len(s.warnings) - SHOWN} more in {s.split} (cache.info(path)['splits'])")
    for line in summary.precision_lines():
        print(line)


main = cli.command(
    ExtractConfig,
    "extract.running.build:run",
    show,
    prog="python -m extract",
    description="Run the frozen ImageNet backbone (BACKBONE) once over every split of a dataset and cache the pooled "
    "features of the layers --layers names, with labels and ids, in <out>/features.h5. Running it again with "
    "the same inputs does nothing (decided in well under a second). Added or edited files are extracted alone "
    "and removed ones dropped, giving the cache a fresh build would; changed weights or image size rebuild it; "
    "an interrupted run resumes where it stopped.",
)

if __name__ == "__main__":
    sys.exit(main())
