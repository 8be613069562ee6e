"""The settings of `make bench` (`python -m bench`)."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.cli import option


@dataclass
class BenchConfig:
    data: str = option(
        "../shared/data/cats_and_dogs_filtered", "a folder of real photos (cats_and_dogs_filtered)", make="BENCH_DATA"
    )
    weights: str = option(
        "../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "MobileNetV2 no-top weights (.h5)",
        make="BENCH_WEIGHTS",
    )
    quick: bool = option(
        False,
        "the fewest images, repeats and settings: proves every row runs (about two minutes), not its numbers",
        make="QUICK",
    )
