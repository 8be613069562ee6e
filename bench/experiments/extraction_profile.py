"""Where extraction's time per image goes, marginally: the wall seconds of each part of a forced
build of a 1,000- and a 5,000-image folder, differenced, so that start-up (imports, the model,
the TFLite conversion) cancels. Runs against any checkout of this repository, so that today's
code and an older commit are profiled side by side in one session:

    python bench/extraction_profile.py --root /tmp/old --out profile-old.json
    python bench/extraction_profile.py --root . --out profile-new.json

`--zero` runs the builds with `bench.pipeline_speed`'s zero-cost engine (everything but the
network); `--cprofile FILE` keeps cProfile's statistics of the large build (the main thread's
Python: tf.data's own threads are native code).

Parts: listing the folder (with content hashing where the code hashes), the shard loop
(decoding and the forward pass), assembly into HDF5, and the rest of the run; and the bare
TFLite forward pass on random tensors, in the same process. The folders are symbolic links to
the photos of `--photos`, cycled: every image is a real photo, decoded as often as any.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.folders import linked_folder


class Timed:
    """Wraps module attributes to add up their wall seconds."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, module, name: str, label: str) -> None:
        real = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)


def instrumented(root: Path) -> tuple[Timed, Callable]:
    """The parts of the code at `root` (today's layout or 034e096's) wrapped once in timers, and
    its function that builds a cache from a config's settings."""
    timed = Timed()
    if (root / "extract" / "runner.py").exists():  # 034e096
        from extract import config, runner

        timed.wrap(runner, "open_source", "listing")
        timed.wrap(runner, "_extract_split", "shard loop")
        timed.wrap(runner, "_assemble", "assembly")
        return timed, lambda **settings: runner.run(config.ExtractConfig(**settings), progress=False)
    from extract import config
    from extract.running import build, extraction, local

    timed.wrap(build, "folder_source", "listing")
    timed.wrap(local, "extract_splits", "shard loop")
    timed.wrap(extraction, "assemble", "assembly")
    return timed, lambda **settings: build.run(config.ExtractConfig(**settings), progress=False)


def one_build(
    timed: Timed,
    run: Callable,
    data: Path,
    out: Path,
    weights: str,
    size: int,
    engine_dir: Path,
    layers: dict,
    profile: cProfile.Profile | None = None,
) -> dict:
    """Seconds of each part of one forced build; under `profile` where given."""
    timed.seconds = {}
    started = time.perf_counter()
    (profile.runcall if profile else lambda call, **settings: call(**settings))(
        run,
        data=str(data), weights=weights, image_size=size, out=str(out), engine="tflite",
        engine_dir=str(engine_dir), force=True, **layers,
    )  # fmt: skip
    return timed.seconds | {"whole run": time.perf_counter() - started}


def bare_forward(weights: str, size: int, engine_dir: Path, images: int, batch: int = 32) -> float:
    """Seconds per image of the TFLite engine alone on random tensors."""
    from extract.network import backbone, engines

    model = backbone.build_backbone(weights, size)
    engine = engines.make_engine("tflite", model, backbone.weights_sha256(model), size, batch, engine_dir)
    inputs = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    engine(inputs)
    started = time.perf_counter()
    for _ in range(images // batch):
        engine(inputs)
    return (time.perf_counter() - started) / (images // batch * batch)


def zero_cost_engine(layers: dict) -> None:
    """Every engine made from now on is `bench.pipeline_speed`'s zero-cost one, of the features' width
    (this checkout's module, loaded from its file: the code at `--root` may predate it)."""
    import importlib.util

    from extract import config
    from extract.network import engines

    here = Path(__file__).resolve().parents[2] / "bench" / "pipeline_speed.py"
    spec = importlib.util.spec_from_file_location("pipeline_speed", here)
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    width = config.ExtractConfig(**layers).source.width
    engines.make_engine = lambda *_, **__: speed.ZeroEngine(width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="the checkout whose code runs")
    parser.add_argument("--photos", default="../shared/data/cats_and_dogs_filtered")
    parser.add_argument(
        "--weights", default="../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    )
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--counts", default="1000,5000", help="the two folder sizes")
    parser.add_argument("--damaged-every", type=int, default=0, help="one photo in so many decodes with a warning")
    parser.add_argument(
        "--layers", help="LAYERS of the build (unset: the checkout's default; 034e096 knows only the last layer)"
    )
    parser.add_argument("--zero", action="store_true", help="the zero-cost engine instead of TFLite's")
    parser.add_argument("--cprofile", help="keep cProfile's statistics of the large build here")
    parser.add_argument("--out", help="write the result here as JSON")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    sys.path.insert(0, str(root))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    small, large = (int(count) for count in args.counts.split(","))
    weights = str(Path(args.weights).resolve())
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        engine_dir = folder / "engines"
        timed, run = instrumented(root)
        layers = {"layers": args.layers} if args.layers else {}
        if args.zero:
            zero_cost_engine(layers)
        warm = linked_folder(Path(args.photos), folder / "warm", 64)
        one_build(timed, run, warm, folder / "o0", weights, args.size, engine_dir, layers)
        parts, profile = {}, cProfile.Profile() if args.cprofile else None
        for count in (small, large):
            data = linked_folder(Path(args.photos), folder / f"data{count}", count, args.damaged_every)
            parts[count] = one_build(
                timed, run, data, folder / f"out{count}", weights, args.size, engine_dir, layers,
                profile if count == large else None,
            )  # fmt: skip
        if profile:
            profile.dump_stats(args.cprofile)
        bare = bare_forward(weights, args.size, engine_dir, 1024)
    marginal = {name: (parts[large][name] - parts[small][name]) / (large - small) * 1e3 for name in parts[large]}
    result = {
        "root": str(root),
        "size": args.size,
        "damaged every": args.damaged_every,
        "layers": args.layers or "default",
        "engine": "zero-cost" if args.zero else "tflite",
        "ms per image, marginal": marginal,
        "bare forward ms per image": bare * 1e3,
        "marginal images/s": 1e3 / marginal["whole run"],
        "ratio to bare forward": marginal["whole run"] / (bare * 1e3),
        "seconds": {str(count): value for count, value in parts.items()},
    }
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
