"""A run killed with SIGKILL resumes where it stopped and ends as an uninterrupted run would,
augmented views included."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cache
from extract.config import ExtractConfig
from extract.running import build
from tests.conftest import ROOT, TINY, tiny_cache, write_class_folders
from tests.tiny_backbone import TinyNet

pytestmark = pytest.mark.slow  # extractions killed and resumed in subprocesses


def test_sigkill_then_resume_gives_the_same_cache(tmp_path, random_weights, engine_dir):
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 600)
    write_class_folders(data / "validation", ["a", "b"], 20, seed=1)
    settings = dict(
        data=str(data),
        weights=str(random_weights),
        image_size=TINY,
        batch=8,
        shard_size=16,
        engine="keras",
        engine_dir=str(engine_dir),
        views=2,
        view_policy="finetune",
    )
    reference = build.run(ExtractConfig(out=str(tmp_path / "whole"), **settings), progress=False).path

    out = tmp_path / "killed"
    args = [sys.executable, "-m", "extract", "--quiet", "--out", str(out)]
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_shard = out / "features.h5.parts" / "train" / "shard-000000.npz"
    deadline = time.monotonic() + 120
    while not first_shard.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert not (out / "features.h5").exists()
    done = sorted(p.name for p in first_shard.parent.glob("shard-*.npz"))
    assert 1 <= len(done) < 75  # 1,200 train images in shards of 16
    (out / "features.h5.tmp").write_bytes(b"half a file from a killed assembly")

    summary = build.run(ExtractConfig(out=str(out), **settings), progress=False)
    assert summary.status == "resumed"
    assert not (out / "features.h5.parts").exists()
    for split in ("train", "validation"):
        resumed, whole = (cache.read_split(path, split, views=True) for path in (summary.path, reference))
        assert resumed.ids == whole.ids
        np.testing.assert_array_equal(resumed.labels, whole.labels)
        np.testing.assert_allclose(resumed.features, whole.features, atol=1e-6)
    assert cache.info(summary.path)["fingerprint"] == cache.info(reference)["fingerprint"]


# Fine-tuning: a run killed with SIGKILL right after an epoch's backup (a patched BackupAndRestore
# kills its own process there, so the kill lands at that point every time), then resumed. On the
# tests' tiny backbone, which the killed process registers as this one does (`tiny_weights`).
FT_SETTINGS = dict(
    epochs=3, batch=4, seeds=1, search_steps=3, search_rates=[1e-5], search_depths=[TinyNet.fine_tune_at]
)
KILLER = """
import os, signal, sys
import keras
from tests import tiny_backbone
tiny_backbone.register()
save = keras.callbacks.BackupAndRestore.on_epoch_end
def on_epoch_end(self, epoch, logs=None):
    save(self, epoch, logs)
    if epoch + 1 == {after}:
        os.kill(os.getpid(), signal.SIGKILL)
keras.callbacks.BackupAndRestore.on_epoch_end = on_epoch_end
from finetune.__main__ import main
sys.exit(main({args!r}))
"""


@pytest.fixture(scope="module")
def heads_out(tmp_path_factory, tiny_weights, engine_dir) -> Path:
    """A cache of generated images and its logistic regression head, the start of every run below."""
    from classify import train as heads_train
    from classify.config import HeadConfig

    root = tmp_path_factory.mktemp("finetune")
    write_class_folders(root / "data" / "train", ["a", "b"], 12)  # 2 choice rows, 22 fit: batches 4 4 4 4 4 2
    write_class_folders(root / "data" / "validation", ["a", "b"], 3, seed=1)
    out = root / "artifacts"
    tiny_cache(root / "data", out, tiny_weights, engine_dir)
    heads_train.run(HeadConfig(out=str(out), heads=["logreg"], features="last", jobs=1, folds=2))
    return out


def ft_run(out: Path, weights) -> dict:
    from finetune.config import FinetuneConfig
    from finetune.tune import run as finetune

    return finetune(FinetuneConfig(out=str(out), weights=str(weights), **FT_SETTINGS), progress=False)


def killed_after(out: Path, weights, after: int) -> None:
    args = ["--out", str(out), "--weights", str(weights), "--quiet"]
    for key, value in FT_SETTINGS.items():
        args += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    process = subprocess.run(
        [sys.executable, "-c", KILLER.format(after=after, args=args)], cwd=ROOT, capture_output=True, timeout=300
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()[-2000:]


# How far two runs left alone differ in their choice losses on a CPU: not at all, bit for bit
# (measured by this test with a second run left alone: BENCHMARKS.md, issue 34).
TOLERANCE = 0.0


def test_a_killed_finetune_resumes_as_the_run_left_alone(heads_out, tiny_weights):
    """Killed after epoch 1, resumed and killed after epoch 2, resumed to the end: every epoch
    visits the images in the order, and with the augmentation, of the run left alone; the
    epochs before each kill are not run again; the choice losses are the run left alone's.
    Three fine-tuning processes, two of them starting TensorFlow, is what a kill takes."""
    from finetune.runs import read_history, read_stream_log
    from workflow.paths import Paths

    alone, killed = (heads_out.parent / name for name in ("alone", "killed"))
    for out in (alone, killed):
        shutil.copytree(heads_out, out)
    first = ft_run(alone, tiny_weights)
    shutil.copytree(alone / "runs" / "search-0", killed / "runs" / "search-0")  # the same search: kept
    files = Paths(alone).run("finetune", 0)
    logged = read_stream_log(files.stream)
    assert sorted(logged) == [0, 1, 2] and len({seed for seed, _ in logged.values()}) == 3
    assert len({order for _, order in logged.values()}) == 3  # a new order every epoch

    run = Paths(killed).run("finetune", 0)
    before = {}
    for after in (1, 2):
        killed_after(killed, tiny_weights, after)
        assert run.backup.exists() and not (killed / "finetune" / "metrics.json").exists()
        before = read_history(run.history)
        assert len(before["loss"]) == after
        assert read_stream_log(run.stream) == {epoch: logged[epoch] for epoch in range(after)}
    metrics = ft_run(killed, tiny_weights)
    assert read_stream_log(run.stream) == logged
    with open(run.history, newline="") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]  # each epoch once
    resumed = read_history(run.history)
    assert resumed["seconds"][:2] == before["seconds"]  # the epochs before the last kill were not run again
    np.testing.assert_allclose(resumed["val_loss"], read_history(files.history)["val_loss"], rtol=0, atol=TOLERANCE)
    assert metrics["finetune"]["epochs_run"] == 3
    assert metrics["finetune"]["search"] == first["finetune"]["search"]  # the kept search, reused
