"""What every row family of `make bench` gets (`bench.measure.ROWS`): the settings, QUICK's cuts,
and the folders the families share in turn."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from bench.config import BenchConfig
from bench.timing import median_rate


@dataclass
class Bench:
    """`engine_dir`: the engines every family reuses once built. `out`: the output folder the
    families use in the registry's order: the tutorial's row leaves a 160 px TFLite cache and its
    heads there, which the start-up, predict, audit and int8 rows time."""

    config: BenchConfig
    engine_dir: Path
    out: Path

    # QUICK proves every row's code runs, in about two minutes: the fewest images, repeats and settings
    @property
    def quick(self) -> bool:
        return self.config.quick

    @property
    def data(self) -> Path:
        return Path(self.config.data)

    @property
    def weights(self) -> str:
        return self.config.weights

    @property
    def repeats(self) -> int:
        return 2 if self.quick else 5

    @property
    def again(self) -> int:
        """The repeats of rows that re-run whole commands."""
        return 1 if self.quick else self.repeats

    @property
    def batches(self) -> int:
        """A bare forward's timing: batches of 32."""
        return 1 if self.quick else 8

    @property
    def limit(self) -> int | None:
        """Images per split of the rows' extractions of the photos."""
        return 32 if self.quick else None

    @property
    def sizes(self) -> tuple[int, ...]:
        """The image sizes of the rows measured at more than one."""
        return (160,) if self.quick else (160, 224)

    @cached_property
    def flops(self) -> float:
        """float32 matrix multiply FLOP/s on every core: the CPU's practical peak, measured once."""
        n = 2048
        a, b = (np.random.default_rng(i).random((n, n), dtype=np.float32) for i in range(2))
        return median_rate(lambda: a @ b, 2 * n**3, self.repeats)
