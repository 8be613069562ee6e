import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import cache
from classify import heads, runner as heads_runner, saved
from classify.config import HeadConfig
from extract import runner as extract_runner
from extract.config import ExtractConfig
from finetune import report
from finetune.baseline import run_baseline
from finetune.config import FinetuneConfig
from finetune.model import build_finetune_model
from finetune.runner import run
from tests.conftest import ROOT, TINY, write_class_folders


@pytest.fixture
def trained(tmp_path, random_weights, engine_dir):
    """A cache of generated images and its heads, in a fresh artifacts folder."""
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 16)
    write_class_folders(data / "validation", ["a", "b"], 6, seed=1)
    out = tmp_path / "artifacts"
    extract_runner.run(ExtractConfig(data=str(data), weights=str(random_weights), image_size=TINY, out=str(out),
                                     engine_dir=str(engine_dir)), progress=False)
    heads_runner.run(HeadConfig(out=str(out), epochs=2, jobs=1, folds=2))
    return out


def test_one_step_trains_only_the_top_and_never_batchnorm_statistics(random_weights):
    keras.utils.set_random_seed(0)
    head = heads.build_dense(1280, 2)
    head_before = [w.copy() for w in head.get_weights()]
    model, base = build_finetune_model(str(random_weights), TINY, head, fine_tune_at=100, augment=False)
    np.testing.assert_equal(model.layers[-1].get_weights(), head_before)  # starts as the saved head
    before = {id(v): np.array(v) for v in base.weights}
    heads.compile_dense(model, 2, 1e-3)
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.uniform(-1, 1, (8, TINY, TINY, 3)).astype("float32"), rng.integers(0, 2, (8, 1)))
    for index, layer in enumerate(base.layers):
        for variable in layer.weights:
            changed = not np.array_equal(before[id(variable)], np.array(variable))
            if "moving" in variable.path:
                assert not changed, variable.path  # BatchNorm runs in inference mode
            elif index < 100:
                assert not changed, variable.path
    above = [v for layer in base.layers[100:] for v in layer.trainable_weights if "kernel" in v.path]
    changed = [not np.array_equal(before[id(v)], np.array(v)) for v in above]
    assert above and all(changed)
    assert not np.array_equal(head.get_weights()[0], head_before[0])


def test_finetune_writes_model_metrics_and_curve(trained, random_weights):
    metrics = run(FinetuneConfig(out=str(trained), weights=str(random_weights), epochs=2, batch=8), verbose=0)
    entry = metrics["finetune"]
    assert entry["validation"]["n"] == 12 and 0 <= entry["validation"]["accuracy"] <= 1
    assert entry["epochs_run"] == 2 and entry["train_seconds"] > 0 and entry["best_epoch"] in (1, 2)
    head_rate = saved.load_record(trained, "dense")["config"]["learning_rate"]
    assert entry["learning_rate"] == pytest.approx(head_rate / 10)
    assert json.loads((trained / "finetune" / "metrics.json").read_text()) == metrics
    assert saved.load_record(trained, "finetune")["fingerprint"] == cache.info(cache.path_in(trained))["fingerprint"]
    for name in ("model.keras", "model.json", "learning_curve.png"):
        assert (trained / "finetune" / name).stat().st_size > 0
    assert not (trained / "finetune" / "backup").exists()


def test_finetune_refuses_other_weights(trained, tmp_path):
    keras.utils.set_random_seed(5)
    other = tmp_path / "other.weights.h5"
    keras.applications.MobileNetV2(input_shape=(TINY, TINY, 3), include_top=False, weights=None).save_weights(other)
    with pytest.raises(cache.CacheError, match="not those the cache was built with"):
        run(FinetuneConfig(out=str(trained), weights=str(other), epochs=1), verbose=0)


def test_killed_finetune_resumes_from_its_last_epoch(trained, random_weights):
    args = [sys.executable, "-m", "finetune", "--out", str(trained), "--weights", str(random_weights),
            "--epochs", "4", "--batch", "4", "--verbose", "0"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history = trained / "finetune" / "history.csv"
    deadline = time.monotonic() + 180
    while process.poll() is None and time.monotonic() < deadline:
        if history.exists() and len(history.read_text().splitlines()) >= 2:  # header + one epoch
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    assert (trained / "finetune" / "backup").exists() and not (trained / "finetune" / "metrics.json").exists()
    done_before = len(history.read_text().splitlines()) - 1
    assert 1 <= done_before < 4

    metrics = run(FinetuneConfig(out=str(trained), weights=str(random_weights), epochs=4, batch=4), verbose=0)
    with open(history, newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2, 3]
    assert metrics["finetune"]["epochs_run"] == 4


def test_report_lists_every_method_with_its_numbers(trained, random_weights):
    run(FinetuneConfig(out=str(trained), weights=str(random_weights), epochs=1, batch=8), verbose=0)
    run_baseline(str(trained), str(random_weights), epochs=1, batch=8, verbose=0)
    text = report.write_report(trained).read_text()
    assert (trained / "report.png").stat().st_size > 0
    methods, _ = report.collect(trained, cache.info(cache.path_in(trained)))
    assert list(methods) == ["logreg", "dense", "finetune", "tutorial"]
    for name, entry in methods.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {report.LABELS[name]} |"))
        assert f"| {entry['validation']['accuracy']:.4f} |" in row
        assert f"| {entry['validation']['loss']:.4f} |" in row
        assert f"| {entry['train_seconds']:.1f} |" in row
