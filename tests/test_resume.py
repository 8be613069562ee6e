"""A run killed with SIGKILL resumes where it stopped and ends as an uninterrupted run would,
augmented views included."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import cache
from extract import build
from extract.config import ExtractConfig
from tests.conftest import ROOT, TINY, write_class_folders

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
