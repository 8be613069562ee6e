"""Shared fixtures: generated images of every kind, random MobileNetV2 weights, and the real
photos and weights in ../shared for the end-to-end tests."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data" / "cats_and_dogs_filtered"
SHARED_WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
TINY = 32  # the backbones' smallest input: fast unit tests


def colour_image(label: int, seed: int, size=(48, 40)) -> Image.Image:
    """A noisy image whose dominant colour channel is its class: learnable from pixels."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 90, size=(size[1], size[0], 3), dtype=np.uint8)
    pixels[..., label % 3] += 160
    return Image.fromarray(pixels)


def write_class_folders(root: Path, classes: list[str], per_class: int, seed: int = 0) -> Path:
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour_image(label, seed * 100_000 + label * 1000 + i).save(root / name / f"{name}.{i}.jpg")
    return root


def write_bad_files(folder: Path) -> dict[str, bool]:
    """Every awkward kind of input; the value says whether it should decode."""
    folder.mkdir(parents=True, exist_ok=True)
    base = colour_image(0, 7)
    base.save(folder / "good.jpg")
    base.convert("CMYK").save(folder / "cmyk.jpg")
    base.convert("L").save(folder / "grey.jpg")
    base.convert("RGBA").save(folder / "rgba.png")
    base.save(folder / "image.gif")
    base.save(folder / "image.bmp")
    base.convert("P").save(folder / "palette.png")
    Image.new("RGB", (4000, 3000), (30, 60, 90)).save(folder / "large.jpg")
    whole = (folder / "good.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "corrupt.jpg").write_bytes(whole[:20] + bytes(range(256)) * 4)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    return {
        "good.jpg": True,
        "cmyk.jpg": True,
        "grey.jpg": True,
        "rgba.png": True,
        "image.gif": True,
        "image.bmp": True,
        "palette.png": True,
        "large.jpg": True,
        "truncated.jpg": False,
        "corrupt.jpg": False,
        "empty.jpg": False,
        "notes.txt": False,
    }


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A MobileNetV2 no-top weights file with seeded random values.

    BatchNorm statistics are set from one batch, as training would set them: with the initial
    mean 0 / variance 1, activations blow past ReLU6's clip and most gradients are exactly zero.
    """
    import keras

    keras.utils.set_random_seed(0)
    from extract import backbones

    path = tmp_path_factory.mktemp("weights") / "random_mobilenet_v2.weights.h5"
    model = backbones.named("mobilenet_v2").construct(TINY, None)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    model(np.random.default_rng(0).uniform(-1, 1, (16, TINY, TINY, 3)).astype("float32"), training=True)
    model.save_weights(path)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """The tests' own backbone (`tests/tiny_backbone.py`, three small convolutions), registered, and
    its seeded weights: for the tests of the stages after extraction, which hold for any backbone
    and need not pay for MobileNetV2's 155 layers in every model they build, train and convert."""
    from tests import tiny_backbone

    tiny_backbone.register()
    return tiny_backbone.tiny_weights(tmp_path_factory.mktemp("tiny_weights"))


def other_tiny_weights(folder: Path) -> Path:
    """Weights that fit the tiny backbone but are not `tiny_weights`: every value doubled."""
    from tests import tiny_backbone

    model = tiny_backbone.TinyNet().construct(TINY, None)
    model.set_weights([2 * w for w in model.get_weights()])
    path = folder / "other_tiny.weights.h5"
    model.save_weights(path)
    return path


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> Path:
    """One TFLite conversion per weights, size and layers for the whole run: under pytest-xdist the
    workers share one folder (engines are written whole, by rename, so a worker never reads half of
    another's). The worker's name comes from the environment, so that `-p no:xdist` runs too."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "engines"
    folder.mkdir(exist_ok=True)
    return folder


def private_copy(out: Path, tmp_path: Path) -> Path:
    """A session-built artifacts folder `out`, for one test that writes into it: its files as hard
    links (every writer here replaces a file, never edits it), and a link to the data beside it,
    which the test must only read."""
    copy = tmp_path / out.name
    shutil.copytree(out, copy, copy_function=os.link, symlinks=True)
    if (out.parent / "data").exists():
        (tmp_path / "data").symlink_to(out.parent / "data")
    return copy


def small_shards(data: Path, out: Path, weights: Path, engine_dir: Path, **more):
    """Extraction settings for generated images: TINY px, TFLite, batches of 4 in shards of 8 (many
    shards from few images)."""
    from extract.config import ExtractConfig

    settings = dict(image_size=TINY, batch=4, shard_size=8, engine="tflite", engine_dir=str(engine_dir))
    return ExtractConfig(data=str(data), weights=str(weights), out=str(out), **(settings | more))


def generated_cache(data: Path, out: Path, weights: Path, engine_dir: Path, **settings) -> Path:
    """A cache of generated images with random weights at TINY px (unless `settings` say otherwise)."""
    from extract.config import ExtractConfig
    from extract.running import build

    config = ExtractConfig(
        data=str(data),
        weights=str(weights),
        out=str(out),
        engine_dir=str(engine_dir),
        **({"image_size": TINY} | settings),
    )
    return build.run(config, progress=False).path


def tiny_cache(data: Path, out: Path, weights: Path, engine_dir: Path, **settings) -> Path:
    """A cache of generated images on the tests' own backbone, with `tiny_weights`."""
    from tests.tiny_backbone import TinyNet

    return generated_cache(data, out, weights, engine_dir, backbone=TinyNet.name, **settings)


# The test files that read `shared_cache` (tests/test_layout.py checks this list against the files).
SHARED_CACHE_FILES = frozenset(
    f"test_e2e_{name}.py" for name in ("audit", "features", "heads", "int8", "layers", "predict")
)
UNIT_SECONDS = 5  # a test without the slow mark should take less: `make test-fast` runs them all in a minute
LONG_SECONDS = 60  # a test longer than this says why it cannot be smaller, in a comment beside it


def pytest_collection_modifyitems(items) -> None:
    """Every test in a `test_e2e_*` file is `e2e`: `make test-fast` leaves them out. The files run
    longest first (e2e, then those with slow tests, then the rest), each file's tests together: on
    two workers, short files left for the end fill the gaps, where a long one started last would
    keep one worker busy alone."""
    for item in items:
        if item.path.name.startswith("test_e2e_"):
            item.add_marker(pytest.mark.e2e)
    tier: dict[Path, int] = {}
    for item in items:
        weight = 0 if item.get_closest_marker("e2e") else 1 if item.get_closest_marker("slow") else 2
        tier[item.path] = min(tier.get(item.path, 2), weight)
    first_seen = {path: k for k, path in enumerate(dict.fromkeys(item.path for item in items))}
    items.sort(key=lambda item: (tier[item.path], first_seen[item.path]))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist (`-p no:xdist`) it is not called
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` (`make test`), a test file to a worker, but the files that read the real
    photos' cache (`shared_cache`, a minute to build) on one worker, so it is built once."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedCacheOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "the real photos' cache" if Path(module).name in SHARED_CACHE_FILES else module

    config.option.loadscopereorder = False  # keep the order above: longest first, not most tests first
    return SharedCacheOnOneWorker(config, log)


def pytest_terminal_summary(terminalreporter) -> None:
    """The budget: name each unit test over UNIT_SECONDS (mark it slow, or make it smaller) and
    each test over LONG_SECONDS (it needs a comment saying why it cannot be smaller)."""
    reports = [r for r in terminalreporter.stats.get("passed", []) if r.when == "call"]
    every_phase = [r for key in ("passed", "failed", "error") for r in terminalreporter.stats.get(key, [])]
    tiers = {"unit": 0.0, "slow": 0.0, "e2e": 0.0}
    for report in every_phase:  # set-up (shared fixtures) counts for the tier of the test that paid it
        tiers["e2e" if "e2e" in report.keywords else "slow" if "slow" in report.keywords else "unit"] += report.duration
    summed = ", ".join(f"{tier} {seconds:.0f}" for tier, seconds in tiers.items())
    terminalreporter.write_line(f"seconds by tier, summed over workers: {summed}")
    busy: dict[str, float] = {}  # the balance: the run lasts as long as its busiest worker
    for report in every_phase:
        worker = getattr(report, "worker_id", "one process")  # set by pytest-xdist's workers
        busy[worker] = busy.get(worker, 0.0) + report.duration
    terminalreporter.write_line("seconds by worker: " + ", ".join(f"{w} {s:.0f}" for w, s in sorted(busy.items())))
    unmarked = [r for r in reports if r.duration > UNIT_SECONDS and not {"slow", "e2e"} & set(r.keywords)]
    long = [r for r in reports if r.duration > LONG_SECONDS]
    for title, over in (
        (f"unit tests over {UNIT_SECONDS} s without the slow mark", unmarked),
        (f"tests over {LONG_SECONDS} s", long),
    ):
        if over:
            terminalreporter.write_sep("-", f"budget: {len(over)} {title}")
            for report in sorted(over, key=lambda r: -r.duration):
                terminalreporter.write_line(f"{report.duration:7.1f} s  {report.nodeid}")


def require_shared() -> None:
    """The real data must be there in CI; elsewhere the test says why it does not run."""
    if SHARED_DATA.is_dir() and SHARED_WEIGHTS.is_file():
        return
    message = f"real photos and weights not found under {SHARED}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory, engine_dir) -> Path:
    """Features of all 3,000 real photos at 160 px with the real weights, built once."""
    require_shared()
    from extract.config import ExtractConfig
    from extract.running import build

    out = tmp_path_factory.mktemp("shared_artifacts")
    config = ExtractConfig(
        data=str(SHARED_DATA), weights=str(SHARED_WEIGHTS), out=str(out), engine="tflite", engine_dir=str(engine_dir)
    )
    return build.run(config, progress=False).path


@pytest.fixture(scope="session")
def shared_heads(shared_cache) -> dict:
    """Both heads trained on the real cache; their metrics."""
    from classify import train
    from classify.config import HeadConfig

    # 30 epochs: at the tutorial's 10 the Dense head is still climbing (~96.5%, BENCHMARKS.md).
    return train.run(HeadConfig(dense_recipe="tutorial", out=str(shared_cache.parent), epochs=30))


def seen_by(out, head: str, split: str, views: bool = False):
    """A split of the cache as the saved `head` sees it: the feature blocks it chose (FEATURES)."""
    import cache
    from classify import saved
    from workflow.paths import Paths

    layers = saved.load_record(out, head)["feature_source"]["layers"]
    return cache.read_split(Paths(out).cache, split, views, blocks=layers)
