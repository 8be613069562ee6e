"""Speed and memory of the workflow, as rows of one table (`make bench`).

All figures come from one run on one machine, so their ratios hold on a noisy one; each speed
is the median of several repeats after a warm-up. Real photos where content matters, synthetic
tensors and features elsewhere.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import keras
import numpy as np

import cache
from audit import find as audit_find
from audit.config import AuditConfig
from bench import finetune_speed
from bench.backbones import backbone_rows
from bench.config import BenchConfig
from bench.folders import linked_folder
from bench.peak import measured
from bench.pipeline_speed import ceiling_rows, decode_only
from bench.precision import int8_rows
from bench.scale import scale_rows
from bench.synthetic import gaussian_cache
from bench.timing import median_rate
from classify import train as heads_train
from classify.config import HeadConfig, PredictConfig
from classify.heads import network
from classify.heads.logreg import train_logreg
from classify.part import Loaded
from classify.prediction import predict
from extract.config import ExtractConfig
from extract.network import backbone, engines
from extract.reading.sources import Split
from extract.running import build
from finetune.config import BaselineConfig
from finetune.tutorial import run as run_baseline
from workflow.paths import Paths

ROOT = Path(__file__).resolve().parents[1]
# Every command line, for the start-up (`--help`) timings.
ENTRY_POINTS = (
    "extract",
    "classify",
    "classify.predict",
    "classify.export",
    "finetune",
    "finetune.baseline",
    "report",
    "audit",
    "bench",
)


def bare_forward(
    weights: str, size: int, engine_dir: Path, repeats: int, names=("keras", "tflite"), batches: int = 8
) -> dict[str, float]:
    """Images/s of each engine in `names` on pre-decoded tensors, `batches` batches of 32 a timing
    (one batch is too short to time on a noisy machine; QUICK takes one all the same)."""
    model = backbone.build_backbone(weights, size)
    digest = backbone.weights_sha256(model)
    inputs = np.random.default_rng(0).uniform(-1, 1, (32, size, size, 3)).astype(np.float32)
    rates = {}
    for name in names:
        engine = engines.make_engine(name, model, digest, size, 32, engine_dir)
        rates[name] = median_rate(lambda engine=engine: [engine(inputs) for _ in range(batches)], batches * 32, repeats)
    return rates


def end_to_end(
    data: Path, weights: str, size: int, engine: str, engine_dir: Path, limit: int | None, out: str | Path
) -> tuple[float, float]:
    """(images/s of extraction work from the cache's own per-split seconds, wall seconds of the whole run)"""
    config = ExtractConfig(
        data=str(data),
        weights=weights,
        image_size=size,
        out=str(out),
        engine=engine,
        engine_dir=str(engine_dir),
        limit=limit,
        force=True,
    )
    started = time.perf_counter()
    summary = build.run(config, progress=False)
    wall = time.perf_counter() - started
    work = sum(s.seconds for s in summary.splits)
    return sum(s.images for s in summary.splits) / work, wall


def marginal_rows(
    photos: Path, weights: str, engine_dir: Path, counts: tuple[int, int], repeats: int, batches: int
) -> list[tuple]:
    """What a large dataset sees: the images/s between two forced builds of `counts` images (links
    to the photos, cycled), after a warm-up build, so that start-up cancels; against the bare
    TFLite forward pass timed in the same run, after each build."""
    size, (small, large) = 160, counts
    with tempfile.TemporaryDirectory() as folder:
        walls, bare = {}, []
        warm = linked_folder(photos, Path(folder, "warm"), small)  # the TFLite conversion, the page cache
        end_to_end(warm, weights, size, "tflite", engine_dir, None, Path(folder, "out"))
        for count in (small, large):
            data = linked_folder(photos, Path(folder, f"data{count}"), count)
            walls[count] = end_to_end(data, weights, size, "tflite", engine_dir, None, Path(folder, "out"))[1]
            bare.append(bare_forward(weights, size, engine_dir, repeats, ("tflite",), batches)["tflite"])
    rate, forward = (large - small) / (walls[large] - walls[small]), statistics.mean(bare)
    return [
        (
            f"extraction, marginal rate {small:,} → {large:,} images",
            size,
            f"{rate:.0f} img/s",
            f"{forward / rate:.2f} × the time of its bare forward ({forward:.0f} img/s, same run); "
            f"forced builds, wall {walls[small]:.1f} s and {walls[large]:.1f} s",
        )
    ]


def workflow_vs_tutorial(
    data: Path, weights: str, engine_dir: Path, out: Path, epochs: int, limit: int | None, repeats: int
) -> list[tuple]:
    """The tutorial's frozen-base `fit` against `make features` + `make heads`, same data, same epochs.

    The first `make heads` counts in features + heads; re-running the heads is the median of
    `repeats` runs after it (in-process, as the tutorial's fit time is)."""

    def make_heads(names: list[str]) -> tuple[float, dict]:
        started = time.perf_counter()
        # one run each, as the tutorial's recipe below: the same work on both sides
        config = HeadConfig(out=str(out), heads=names, dense_recipe="tutorial", epochs=epochs, seeds=1)
        metrics = heads_train.run(config)
        return time.perf_counter() - started, metrics

    _, extract_wall = end_to_end(data, weights, 160, "tflite", engine_dir, limit, out)
    heads = HeadConfig().heads  # the default heads
    first_heads, metrics = make_heads(heads)
    rerun = {
        head: statistics.median(make_heads(names)[0] for _ in range(repeats))
        for head, names in (("all", heads), *((head, [head]) for head in heads))
    }
    tutorial = run_baseline(BaselineConfig(out=str(out), epochs=epochs, seeds=1), progress=False)["tutorial"]
    accuracy = {name: entry["validation"]["accuracy"] for name, entry in (metrics | {"tutorial": tutorial}).items()}
    ours, fit = extract_wall + first_heads, tutorial["train_seconds"]
    return [
        (
            f"tutorial recipe: frozen base in fit, {epochs} epochs",
            160,
            f"{fit:.1f} s",
            f"validation accuracy {accuracy['tutorial']:.4f}",
        ),
        (
            "make features + make heads (the default heads)",
            160,
            f"{ours:.1f} s",
            f"extraction {extract_wall:.1f} s + heads {first_heads:.1f} s; validation accuracy "
            + ", ".join(f"{head} {accuracy[head]:.4f}" for head in heads),
        ),
        ("speed-up: tutorial / (features + heads)", "–", f"{fit / ours:.1f}×", "same data and epochs"),
        (
            "speed-up: tutorial / re-running make heads",
            "–",
            f"{fit / rerun['all']:.1f}×",
            f"the default heads {rerun['all']:.2f} s, median of {repeats}",
        ),
        *[
            (
                f"speed-up: tutorial / re-running the {head} head",
                "–",
                f"{fit / rerun[head]:.1f}×",
                f"{rerun[head]:.2f} s (`make heads HEADS={head}`), median of {repeats}",
            )
            for head in heads
        ],
    ]


def predict_rate(data: Path, out: Path, engine_dir: Path, limit: int | None) -> tuple[float, int]:
    """`make predict` over the validation photos (or `limit` photos, linked), wall incl. start-up."""
    with tempfile.TemporaryDirectory() as folder:
        images = data / "validation" if limit is None else linked_folder(data, Path(folder), limit)
        started = time.perf_counter()
        counts = predict(PredictConfig(images=[str(images)], out=str(out), engine_dir=str(engine_dir)), progress=False)
        return sum(counts.values()) / (time.perf_counter() - started), sum(counts.values())


def cache_read_mb_s(rows: int, repeats: int) -> float:
    """cache.load of a train split of `rows` × 1280 float32 (warm page cache)."""
    with tempfile.TemporaryDirectory() as folder:
        path = gaussian_cache(Path(folder) / "features.h5", 2, {"train": rows}, backbone.FEATURE_DIM, dtype="float32")
        rate = median_rate(lambda: cache.load(path, "train"), rows, repeats)
    return rate * backbone.FEATURE_DIM * 4 / 1e6


def multiply_adds(weights: str, size: int) -> int:
    """MobileNetV2's multiply-adds per image: every (depthwise) convolution's output pixels × kernel size."""
    model = backbone.build_backbone(weights, size)
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            height, width = layer.output.shape[1:3]
            total += height * width * int(np.prod(layer.kernel.shape))
    return total


def peak_flops(repeats: int) -> float:
    """float32 matrix multiply FLOP/s on every core: the CPU's practical peak."""
    n = 2048
    a, b = (np.random.default_rng(i).random((n, n), dtype=np.float32) for i in range(2))
    return median_rate(lambda: a @ b, 2 * n**3, repeats)


def peak_rss_mb(count: int, weights: str, engine_dir: Path, size: int) -> float:
    """Peak RSS of a `python -m extract` process over `count` generated images."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as root:
        rng = np.random.default_rng(0)
        tile = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
        for split, share in (("train", 0.8), ("validation", 0.2)):
            for label in ("a", "b"):
                folder = Path(root, "data", split, label)
                folder.mkdir(parents=True)
                Image.fromarray(tile).save(folder / "0.jpg", quality=90)
                for i in range(1, int(count * share / 2)):
                    os.link(folder / "0.jpg", folder / f"{i}.jpg")  # same bytes, no disk cost
        args = [
            "--quiet",
            "--data",
            str(Path(root, "data")),
            "--weights",
            weights,
            "--image-size",
            str(size),
            "--out",
            str(Path(root, "out")),
            "--engine-dir",
            str(engine_dir),
        ]
        return measured("extract", args)[1]


def update_rows(data: Path, weights: str, engine_dir: Path, count: int, added: int) -> list[tuple]:
    """`make features` on `count` distinct photos from scratch, then again after adding `added` more.

    The photos are the real ones, each copy made distinct by a JPEG comment segment: a change
    of content that decodes to the same pixels, so every copy costs a real decode."""
    photos = sorted(data.rglob("*.jpg"))
    order = np.random.default_rng(0).permutation(len(photos))  # both classes in any prefix
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root, "data")

        def write(first: int, last: int) -> None:
            for i in range(first, last):
                photo = photos[order[i % len(photos)]]
                target = folder / photo.parent.name / f"{i:06d}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                comment = f"copy {i}".encode()
                body = photo.read_bytes()
                target.write_bytes(body[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + body[2:])

        command = [sys.executable, "-m", "extract", "--quiet", "--data", str(folder), "--weights", weights]
        command += ["--image-size", "160", "--out", str(Path(root, "out")), "--engine-dir", str(engine_dir)]
        write(0, count)
        full = wall_seconds(command, 1)
        write(count, count + added)
        update = wall_seconds(command, 1)
    return [
        (f"make features, {count} photos from scratch", 160, f"{full:.1f} s", "wall incl. start-up"),
        (
            f"make features after adding {added} photos to those {count}",
            160,
            f"{update:.1f} s",
            f"wall incl. start-up; {full / update:.0f}× faster than the full build",
        ),
    ]


def assembly_rows(rows: int) -> list[tuple]:
    """Shards to cache: `rows` synthetic rows × 1280 float32 in shards of 1,024, through the same
    assembly `make features` runs (checksums included), in MB/s of features written."""
    from cache.shards import Shard, ShardStore
    from extract.reading.sources import Source
    from extract.running import extraction, shard_work

    rng = np.random.default_rng(0)
    config = ExtractConfig(data="-", layers="last")  # the rows below are the last layer's width
    ids = [f"train/{i}.jpg" for i in range(rows)]
    split = Split("train", ids, np.zeros(rows, np.int64))
    with tempfile.TemporaryDirectory() as folder:
        store = ShardStore(Path(folder, "parts"), "bench")
        block = rng.random((config.shard_size, 1, backbone.FEATURE_DIM), dtype=np.float32)
        for index in shard_work.all_shards(split, config.shard_size):
            count = len(shard_work.shard_range(split, index, config.shard_size))
            store.write("train", index, Shard(np.arange(count) + index * config.shard_size, block[:count], [], 0.0))
        attrs = {"fingerprint": "bench", "class_names": ["a"], "versions": {}}
        started = time.perf_counter()
        extraction.assemble(
            Path(folder, "features.h5"), attrs, Source("-", ["a"], [split], ""), [split], store, None, config
        )
        seconds = time.perf_counter() - started
    rate = rows * backbone.FEATURE_DIM * 4 / 1e6 / seconds
    return [
        (
            f"assembly, {rows} rows × 1280 float32 from shards",
            "–",
            f"{rate:.0f} MB/s",
            f"{seconds:.1f} s; 10 M rows (51 GB) would take {51e3 / rate / 60:.0f} min",
        )
    ]


def cluster_rows(data: Path, weights: str, engine_dir: Path, limit: int | None, out: Path, quick: bool) -> list[tuple]:
    """Extraction in one process against 2 Dask workers of 1 core each on the same 2 cores: a
    LocalCluster started for the run (`CLUSTER=local:2`), and a running one whose workers have
    built their engines (`SCHEDULER=`, the steady state); shards of 256 so that the 2 workers
    share the work evenly. Then Dask's own costs: start-up and a task's round trip."""
    from dask.distributed import Client, LocalCluster

    def wall(**more) -> float:
        config = ExtractConfig(
            data=str(data),
            weights=weights,
            out=str(out),
            engine="tflite",
            engine_dir=str(engine_dir),
            limit=limit,
            shard_size=256,
            force=True,
            **more,
        )
        started = time.perf_counter()
        build.run(config, progress=False)
        return time.perf_counter() - started

    single = wall()
    # quick: the cluster started for the run is left out (about 20 s of workers starting TensorFlow); tests cover it
    started_for_run = None if quick else wall(cluster="local:2")
    started = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0", resources={"engine": 1}
    ) as local:
        with Client(local) as client:
            client.submit(abs, -1).result()
            start_up = time.perf_counter() - started
            started = time.perf_counter()
            client.gather(client.map(abs, range(-200, 0)))
            per_task = (time.perf_counter() - started) / 200
        wall(scheduler=local.scheduler_address)  # the workers build their engines
        running = wall(scheduler=local.scheduler_address)
    rows = [("extraction, 1 process (2 cores)", 160, f"{single:.1f} s", "wall, in-process, shards of 256")]
    if started_for_run is not None:
        rows.append(
            (
                "extraction, LocalCluster started for the run, 2 workers × 1 core",
                160,
                f"{started_for_run:.1f} s",
                f"{single / started_for_run:.2f}× the single process: workers start TensorFlow and build their engines",
            )
        )
    return rows + [
        (
            "extraction, running cluster of 2 workers × 1 core",
            160,
            f"{running:.1f} s",
            f"{single / running:.2f}× the single process (target 0.9×)",
        ),
        ("Dask LocalCluster start-up, 2 workers", "–", f"{start_up:.1f} s", "to the first task's result"),
        ("Dask per-task round trip", "–", f"{1000 * per_task:.1f} ms", "200 no-op tasks on 2 workers"),
    ]


def planted_rows(data: Path, weights: str, engine_dir: Path, flips: int, leaks: int, every: int = 1) -> list[tuple]:
    """`make audit` on a copy of the photos (every `every`-th) with `flips` train photos moved to
    the other class folder and `leaks` validation photos copied into train, half re-encoded at
    JPEG quality 70, half resized to 60%: recall of the flips in the first 100 train label issues, and
    how many copies are reported as leakage."""
    from PIL import Image

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        copy = Path(root, "data")
        for photo in sorted(data.rglob("*.jpg"))[::every]:
            target = copy / photo.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(photo, target)
        moved = set()
        for photo in rng.choice(sorted((copy / "train").rglob("*.jpg")), flips, replace=False):
            other = "dogs" if photo.parent.name == "cats" else "cats"
            photo.rename(copy / "train" / other / photo.name)
            moved.add(f"train/{other}/{photo.name}")
        copies = {}
        for k, photo in enumerate(rng.choice(sorted((copy / "validation").rglob("*.jpg")), leaks, replace=False)):
            image = Image.open(photo).convert("RGB")
            target = copy / "train" / photo.parent.name / f"leak-{photo.name}"
            if k % 2:
                image.resize((image.width * 6 // 10, image.height * 6 // 10)).save(target, quality=90)
            else:
                image.save(target, quality=70)
            copies[f"train/{photo.parent.name}/leak-{photo.name}"] = f"validation/{photo.parent.name}/{photo.name}"
        out = Path(root, "out")
        build.run(ExtractConfig(data=str(copy), weights=weights, out=str(out), engine_dir=str(engine_dir)), False)
        found = audit_find.audit(Paths(out).cache, AuditConfig(out=str(out)))
    labels = list(found[(found["issue"] == "label") & (found["split"] == "train")]["id"][:100])
    leakage = found[found["issue"] == "leakage"]
    caught = set(zip(leakage["id"], leakage["paired_id"], strict=True)) & set(copies.items())
    return [
        (
            f"audit: {flips} planted label flips in the first 100 label issues",
            160,
            f"{len(moved.intersection(labels)) / flips:.0%} recall",
            f"{len(labels)} listed; target 80%",
        ),
        (
            f"audit: {leaks} planted copies across splits reported as leakage",
            160,
            f"{len(caught)} of {leaks}",
            f"{len(leakage) - len(caught)} other leakage pairs; target all",
        ),
    ]


def audit_rows(out: Path, rows: int) -> list[tuple]:
    """`make audit` on the real cache in `out` (wall, start-up and thumbnails included), and the
    audit's search alone on `rows` synthetic rows, with the peak memory it added."""
    wall = wall_seconds([sys.executable, "-m", "audit", "--quiet", "--out", str(out)], 1)
    counts = json.loads(Paths(out).audit_json.read_text())["images"]
    result = [(f"make audit, {sum(counts.values())} photos", 160, f"{wall:.1f} s", "wall incl. start-up; target 10 s")]
    with tempfile.TemporaryDirectory() as folder:
        splits = {"train": rows * 9 // 10, "validation": rows - rows * 9 // 10}
        path = gaussian_cache(
            Path(folder) / "features.h5", 2, splits, backbone.FEATURE_DIM, spread=1.0, relu=True, dtype="float32"
        )
        tracemalloc.start()
        started = time.perf_counter()
        audit_find.audit(path, AuditConfig(out=folder))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    full = rows * rows * 4 / 1e6
    result.append(
        (
            f"audit search alone, {rows} synthetic rows × 1280",
            "–",
            f"{seconds:.1f} s",
            f"peak {peak / 1e6:.0f} MB of Python allocations (an N×N float32 matrix: {full:.0f} MB); "
            "target 60 s at 25,000",
        )
    )
    return result


def heads_seconds(rows: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, rows)
    features = np.maximum(rng.normal(0, 1, (rows, backbone.FEATURE_DIM)) + labels[:, None] * 0.1, 0)
    features = features.astype(np.float32)
    config = HeadConfig(cs=[0.01], folds=2, jobs=-1, dense_recipe="tutorial", patience=10)
    logreg = statistics.median(train_logreg(config, features, labels)[1]["fit_seconds"] for _ in range(repeats))
    started = time.perf_counter()
    rows = Loaded(features[:, None], labels, [])
    network.train_dense(config, rows, rows, 2)
    return {"logreg fit": logreg, "dense fit (10 epochs)": time.perf_counter() - started}


def wall_seconds(command: list[str], repeats: int) -> float:
    """Median wall time of a command run from the repository root, start-up included."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def start_up_rows(data: Path, weights: str, out: Path, limit: int | None, repeats: int) -> list[tuple]:
    """`make features` on an up-to-date cache (built at `out` with the TFLite engine), and every `--help`."""
    make = [
        "make",
        "--no-print-directory",
        "-s",
        "features",
        f"DATA={data}",
        f"WEIGHTS={weights}",
        f"OUT={out}",
        "ENGINE=tflite",
        f"PY={sys.executable}",
    ] + ([f"LIMIT={limit}"] if limit else [])
    rows = [
        (
            "`make features`, cache up to date",
            160,
            f"{wall_seconds(make, repeats):.2f} s",
            f"wall, median of {repeats}; target under 1 s",
        )
    ]
    for module in ENTRY_POINTS:
        seconds = wall_seconds([sys.executable, "-m", module, "--help"], repeats)
        rows.append((f"`python -m {module} --help`", "–", f"{seconds:.2f} s", f"wall, median of {repeats}"))
    return rows


def cpu_model() -> tuple[str, str]:
    """The CPU's name and its vector extensions: int8's speedup over float32 depends on them (on an
    AVX2-only AMD EPYC it is about 1x; BENCHMARKS.md)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), "extensions unknown (no /proc/cpuinfo)"
    # one block per core, alike: the last one's fields stand for all
    fields = {
        key.strip(): value.strip() for key, value in (line.split(":", 1) for line in info.splitlines() if ":" in line)
    }
    name, flags = fields.get("model name", "?"), fields.get("flags", "").split()
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return name, ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in wanted)


def keras_device() -> str:
    """Where the Keras engine rows ran: they measure a GPU exactly when TensorFlow sees one."""
    if not engines.has_gpu():
        return "CPU: TensorFlow sees no GPU here, so no GPU figure was measured"
    import tensorflow as tf

    names = [
        tf.config.experimental.get_device_details(d).get("device_name", d.name)
        for d in tf.config.list_physical_devices("GPU")
    ]
    return "GPU: " + ", ".join(names)


def run(config: BenchConfig, progress: bool = False) -> list[tuple]:
    """Every row of the table: (measure, px, result, note)."""

    # QUICK proves every row's code runs, in about two minutes: the fewest images, repeats and settings
    quick, data, weights = config.quick, Path(config.data), config.weights
    repeats = 2 if quick else 5
    again = 1 if quick else repeats  # the repeats of rows that re-run whole commands
    batches = 1 if quick else 8  # a bare forward's timing: batches of 32
    limit = 64 if quick else None
    rows = []
    flops = peak_flops(repeats)
    rows.append(("CPU float32 matmul peak", "–", f"{flops / 1e9:.0f} GFLOP/s", "NumPy 2048² matmul, every core"))
    rows.append(("device of the keras engine rows", "–", keras_device(), "engines.has_gpu()"))
    rows.append(("CPU", "–", *cpu_model()))
    with tempfile.TemporaryDirectory() as engine_dir, tempfile.TemporaryDirectory() as out:
        engine_dir, out = Path(engine_dir), Path(out)
        for size in (160,) if quick else (160, 224):
            macs = multiply_adds(weights, size)
            rows.append(
                (
                    "compute floor (multiply-adds / peak)",
                    size,
                    f"{flops / (2 * macs):.0f} img/s",
                    f"{macs / 1e6:.0f} M multiply-adds per image",
                )
            )
            # Bare forward and the default engine's extraction in turns, 3 rounds: this machine's
            # speed drifts over minutes, and neighbouring timings keep their ratio. Keras end to
            # end, slower, runs once (time budget).
            bare_runs, e2e_runs = [], {"tflite": [], "keras": []}
            for _ in range(1 if quick else 3):
                bare_runs.append(bare_forward(weights, size, engine_dir, repeats, batches=batches))
                e2e_runs["tflite"].append(end_to_end(data, weights, size, "tflite", engine_dir, limit, out))
            e2e_runs["keras"].append(end_to_end(data, weights, size, "keras", engine_dir, limit, out))
            bare = {name: statistics.median(run[name] for run in bare_runs) for name in bare_runs[0]}
            for name, rate in bare.items():
                rows.append(
                    (
                        f"bare forward, {name}",
                        size,
                        f"{rate:.0f} img/s",
                        f"pre-decoded tensors, batch 32; {rate * 2 * macs / flops:.0%} of peak; "
                        f"median of {len(bare_runs)}",
                    )
                )
            for name, runs in e2e_runs.items():
                rate, wall = sorted(runs)[len(runs) // 2]
                rows.append(
                    (
                        f"extraction end to end, {name}",
                        size,
                        f"{rate:.0f} img/s",
                        f"{rate / bare[name]:.2f} × its bare forward; {wall:.1f} s wall incl. start-up; "
                        f"median of {len(runs)}",
                    )
                )
            rows += finetune_speed.rows(weights, size, quick)
            rate = decode_only(data, size, 256 if quick else 3000, repeats)
            rows.append(("read + decode + resize alone", size, f"{rate:.0f} img/s", "extraction's tf.data pipeline"))
        rows += marginal_rows(data, weights, engine_dir, (64, 256) if quick else (1000, 5000), repeats, batches)
        rows += workflow_vs_tutorial(data, weights, engine_dir, out, 1 if quick else 10, limit, again)
        rows += start_up_rows(data, weights, out, limit, again)
        rate, count = predict_rate(data, out, engine_dir, limit)
        rows.append(("make predict, logreg head", 160, f"{rate:.0f} img/s", f"{count} photos, wall incl. start-up"))
        for count in (100,) if quick else (1000, 25000):
            rows.append(
                (
                    f"peak RSS of extraction, {count} images",
                    160,
                    f"{peak_rss_mb(count, weights, engine_dir, 160):.0f} MB",
                    "python -m extract process",
                )
            )
        rows += update_rows(data, weights, engine_dir, *((64, 8) if quick else (25000, 100)))
        rows += audit_rows(out, 2000 if quick else 25000)
        rows += cluster_rows(data, weights, engine_dir, limit, out, quick)
        rows += assembly_rows(20_000 if quick else 200_000)
        rows += planted_rows(data, weights, engine_dir, *((6, 4, 30) if quick else (60, 20, 1)))
        rows += int8_rows(
            data, weights, engine_dir, out, (160,) if quick else (160, 224), limit, *((20, 1) if quick else (200, 3))
        )
        rows += ceiling_rows(data, weights, engine_dir, quick)
        rows += backbone_rows(data, weights, quick)
    # quick: 0.005 GB streams 2,000 rows (the rows above train heads in memory), the Dense head for 2 epochs
    quick_heads = ("--dense-recipe", "tutorial", "--epochs", "2")
    rows += scale_rows((2000,), 0.005, quick_heads) if quick else scale_rows((25_000, 500_000, 2_000_000), 1.0)
    for n in (2000,) if quick else (2000, 25000):
        for name, seconds in heads_seconds(n, repeats).items():
            rows.append((f"{name}, {n}×1280", "–", f"{seconds:.2f} s", "synthetic features"))
        rows.append(
            (f"cache.load, {n}×1280 float32", "–", f"{cache_read_mb_s(n, repeats):.0f} MB/s", "warm page cache")
        )
    return rows
