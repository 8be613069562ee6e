"""`python -m extract`: build the HDF5 feature cache (`make features`)."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from extract.config import ExtractConfig  # noqa: E402

D = ExtractConfig()


def parse_args(argv=None) -> ExtractConfig:
    parser = argparse.ArgumentParser(
        prog="python -m extract",
        description="Run the frozen ImageNet MobileNetV2 once over every split of a dataset and cache "
        "its 1280-d pooled features, labels and ids in <out>/features.h5. Running it again with the "
        "same inputs does nothing; changed weights, image size or data rebuild the cache; an "
        "interrupted run resumes where it stopped.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", default=D.data, help="'tfds:<name>' (the tutorial's 80/10/10 split of its "
                        "train split) or a folder: train/ validation/ [test/] of class folders, or class "
                        "folders alone (split 80/10/10 by a hash of each file's path)")
    parser.add_argument("--weights", default=D.weights, help="'imagenet' (downloaded by Keras) or a path to "
                        "MobileNetV2 no-top Keras weights (.h5)")
    parser.add_argument("--image-size", type=int, default=D.image_size, help="square input side in pixels")
    parser.add_argument("--out", default=D.out, help="output folder; the cache is <out>/features.h5")
    parser.add_argument("--batch", type=int, default=D.batch, help="images per forward pass")
    parser.add_argument("--limit", type=int, default=D.limit, help="at most this many images per split "
                        "(a stable, class-mixed subset), for quick runs")
    parser.add_argument("--engine", default=D.engine, choices=("auto", "keras", "tflite"),
                        help="auto: keras on a GPU, tflite (XNNPACK, fp32) on a CPU")
    parser.add_argument("--dtype", default=D.dtype, choices=("float32", "float16"),
                        help="feature precision on disk")
    parser.add_argument("--shard-size", type=int, default=D.shard_size,
                        help="images per resumable unit of work")
    parser.add_argument("--engine-dir", default=D.engine_dir,
                        help="where converted TFLite models are kept (default <out>/engines)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache is up to date")
    parser.add_argument("--tfds-data-dir", default=D.tfds_data_dir, help="TFDS data folder (TFDS's default if unset)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = vars(parser.parse_args(argv))
    quiet = args.pop("quiet")
    return ExtractConfig(**args), quiet


def main(argv=None) -> int:
    try:
        config, quiet = parse_args(argv)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    import cache
    from extract import runner
    from extract.backbone import WeightsError
    from extract.sources import DataError

    try:
        summary = runner.run(config, progress=not quiet)
    except (DataError, WeightsError, cache.CacheError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{summary.path}: {summary.status}")
    print(f"{'split':<12}{'images':>8}{'skipped':>9}{'seconds':>9}{'img/s':>8}")
    for s in summary.splits:
        print(f"{s.split:<12}{s.images:>8}{s.skipped:>9}{s.seconds:>9.1f}{s.images_per_s:>8.0f}")
    for split in summary.splits:
        skipped = cache.skipped(summary.path, split.split)
        for item, reason in skipped[:10]:
            print(f"skipped {item}: {reason}")
        if len(skipped) > 10:
            print(f"... and {len(skipped) - 10} more in {split.split} (cache.skipped(path, {split.split!r}))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
