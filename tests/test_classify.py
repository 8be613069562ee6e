import json

import h5py
import numpy as np
import pytest
from sklearn.metrics import log_loss

import cache
from classify import saved, scored
from classify import train as runner
from classify.__main__ import main as classify_main
from classify.config import HeadConfig
from classify.heads import network
from classify.heads.logreg import train_logreg
from classify.part import Loaded
from classify.protocol import protocol_of, rows_of
from workflow.paths import Paths


def blobs(n_per_class, n_classes, dim=64, seed=0, spread=1.0):
    """Gaussian clusters: separable, with some overlap."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1.0, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    features = centres[labels] + rng.normal(0, spread, size=(len(labels), dim))
    return np.maximum(features, 0).astype(np.float32), labels  # ReLU-like, as pooled features are


def write_feature_cache(
    out, n_classes=2, train_labels=None, fingerprint="fp-1", splits=("train", "validation", "test")
):
    class_names = [f"class{i}" for i in range(n_classes)]
    attrs = {
        "fingerprint": fingerprint,
        "class_names": class_names,
        "image_size": 32,
        "engine": "tflite",
        "preprocessing": "test",
        "model": "test",
        "weights": "w.h5",
        "weights_sha256": "0" * 64,
        "dataset": "blobs",
        "versions": {},
    }
    writer = cache.CacheWriter(out / "features.h5", attrs, {"out_relu": 64}, "float32")
    for split, per_class, seed in [
        s for s in (("train", 60, 0), ("validation", 30, 1), ("test", 30, 2)) if s[0] in splits
    ]:
        X, y = blobs(per_class, n_classes, seed=seed)
        if split == "train" and train_labels is not None:
            y = np.full_like(y, train_labels)
        writer.add_split(split)
        writer.append(split, X, y, [f"{split}/{i}" for i in range(len(y))], [], [])
        writer.set_split_attrs(split, n_inputs=len(y), seconds=0.5)  # as extraction records them
    writer.close()
    return out


def fast_config(out, **overrides):
    """The tutorial's recipe at a higher rate: seconds per head (the converged recipe: tests/test_heads.py)."""
    settings = {"out": str(out), "dense_recipe": "tutorial", "epochs": 40, "learning_rate": 1e-3, "jobs": 1, "seeds": 1}
    return HeadConfig(**(settings | overrides))


@pytest.mark.slow
@pytest.mark.parametrize("n_classes", [2, 3])
def test_both_heads_learn_separable_features(tmp_path, n_classes):
    write_feature_cache(tmp_path, n_classes)
    metrics = runner.run(fast_config(tmp_path))
    for name in ("logreg", "dense"):
        for split in ("validation", "test"):
            result = metrics[name][split]
            assert result["accuracy"] >= 0.95, (name, split, result)
            assert result["auc"] >= 0.98 and result["n"] == 30 * n_classes
            assert np.array(result["confusion"]).shape == (n_classes, n_classes)
            assert np.array(result["confusion"]).sum() == 30 * n_classes
        assert metrics[name]["train_seconds"] > 0
    on_disk = json.loads((tmp_path / "heads" / "metrics.json").read_text())
    assert on_disk["logreg"]["validation"] == metrics["logreg"]["validation"]
    for name in ("dense.keras", "dense.json", "logreg.joblib", "logreg.json", "dense_learning_curve.png"):
        assert (tmp_path / "heads" / name).stat().st_size > 0
    model, record = saved.load(tmp_path, "dense", "fp-1")
    X, y = cache.load(tmp_path / "features.h5", "validation")
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (len(y), n_classes)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert record["class_names"] == [f"class{i}" for i in range(n_classes)]


def test_a_head_is_refused_against_another_cache(tmp_path):
    write_feature_cache(tmp_path)
    runner.run(fast_config(tmp_path, heads=["logreg"]))
    with pytest.raises(saved.HeadMismatchError, match="run `make heads` again"):
        saved.load(tmp_path, "logreg", "another-fingerprint")
    with pytest.raises(saved.HeadMismatchError, match="no saved dense model"):
        saved.load(tmp_path, "dense")


def test_same_seed_gives_identical_logistic_regression(tmp_path):
    X, y = blobs(50, 3)
    first, _ = train_logreg(HeadConfig(seed=3, jobs=1), X, y)
    second, _ = train_logreg(HeadConfig(seed=3, jobs=1), X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_cross_validation_picks_c_and_times_the_search(tmp_path):
    X, y = blobs(50, 2)
    _, record = train_logreg(HeadConfig(cs=[1e-4, 1.0], jobs=1), X, y)
    assert record["best_C"] in (1e-4, 1.0) and record["fit_seconds"] > 0 and record["search_seconds"] > 0


@pytest.mark.slow
def test_one_head_at_a_time_keeps_the_others_metrics(tmp_path):
    write_feature_cache(tmp_path)
    runner.run(fast_config(tmp_path))
    metrics = runner.run(fast_config(tmp_path, heads=["logreg"]))
    assert set(metrics) == {"logreg", "dense"}
    write_feature_cache(tmp_path, fingerprint="fp-2")  # new cache: the old dense entry is stale
    assert set(runner.run(fast_config(tmp_path, heads=["logreg"]))) == {"logreg"}


@pytest.mark.slow
def test_a_failure_while_writing_leaves_the_previous_heads_whole(tmp_path, monkeypatch):
    write_feature_cache(tmp_path)
    config = fast_config(tmp_path)
    runner.run(config)
    before = {p.name: p.read_bytes() for p in config.paths.heads.iterdir()}

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "write_metrics", no_space)  # after both models are written
    with pytest.raises(OSError, match="No space"):
        runner.run(fast_config(tmp_path, seed=7))
    assert {p.name: p.read_bytes() for p in config.paths.heads.iterdir()} == before


def test_one_class_in_train_is_a_clear_error(tmp_path, capsys):
    write_feature_cache(tmp_path, train_labels=1)
    assert classify_main(["--out", str(tmp_path)]) == 1
    assert "only one class" in capsys.readouterr().err


def test_missing_and_interrupted_caches(tmp_path, capsys):
    assert classify_main(["--out", str(tmp_path)]) == 1
    assert "run `make features` first" in capsys.readouterr().err
    writer = cache.CacheWriter(tmp_path / "features.h5", {"fingerprint": "x"}, {"out_relu": 4}, "float32")
    writer._handle.close()
    (tmp_path / "features.h5.tmp").rename(tmp_path / "features.h5")  # as a crash mid-write would leave it
    assert classify_main(["--out", str(tmp_path)]) == 1
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_prints_a_markdown_table(tmp_path, capsys):
    write_feature_cache(tmp_path)
    assert classify_main(["--out", str(tmp_path), "--heads", "logreg", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "| logreg | validation |" in out and "| logreg | test |" in out


@pytest.mark.slow
@pytest.mark.parametrize("n_classes", [2, 3])
def test_validation_logs_equal_keras_evaluation_and_the_best_epoch_is_kept(n_classes):
    X, y = blobs(60, n_classes)
    Xv, yv = blobs(30, n_classes, seed=1)
    config = HeadConfig(dense_recipe="tutorial", epochs=6, learning_rate=3e-2, patience=2)  # loud enough to overfit
    fit, choose = Loaded(X[:, None], y, []), Loaded(Xv[:, None], yv, [])
    model, history, _ = network.train_dense(config, fit, choose, n_classes, hidden=8)
    assert len(history["val_loss"]) == len(history["loss"]) == len(history["val_accuracy"])
    loss, accuracy = model.evaluate(Xv, network.targets(yv, n_classes), verbose=0)
    best = int(np.argmin(history["val_loss"]))
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-5)
    assert accuracy == pytest.approx(history["val_accuracy"][best], abs=1e-6)


@pytest.mark.slow
def test_every_run_is_kept_and_the_saved_run_has_the_lowest_choice_loss(tmp_path):
    write_feature_cache(tmp_path)  # train, validation, test: choices on validation, verdict on test
    metrics = runner.run(fast_config(tmp_path, seeds=3, epochs=5))
    for name in ("logreg", "dense"):
        entry = metrics[name]
        assert entry["protocol"] == {"fit": "train", "choose": "validation", "score": "test"}
        assert [r["seed"] for r in entry["runs"]] == [0, 1, 2]
        assert entry["saved_seed"] == min(entry["runs"], key=lambda r: r["choice_loss"])["seed"]
        every_run = scored.load(Paths(tmp_path).scored(name))
        assert every_run.split == "test" and every_run.probabilities.shape == (3, 60, 2)
        assert every_run.seeds == [0, 1, 2] and len(every_run.train_seconds) == 3
        model, _ = saved.load(tmp_path, name)
        X, _ = cache.load(Paths(tmp_path).cache, "test")
        np.testing.assert_allclose(
            every_run.probabilities[every_run.seeds.index(entry["saved_seed"])],
            model.predict_proba(X),
            atol=1e-6,
        )
    dense_runs = scored.load(Paths(tmp_path).scored("dense")).probabilities
    assert not np.allclose(dense_runs[0], dense_runs[1])  # seeds change initialisation and shuffling


@pytest.mark.slow
def test_without_a_test_split_choices_use_dev_rows_of_train(tmp_path):
    write_feature_cache(tmp_path, splits=("train", "validation"))
    entry = runner.run(fast_config(tmp_path, heads=["dense"], dev_fraction=0.2))["dense"]
    assert entry["protocol"]["choose"].startswith("dev (0.2") and entry["protocol"]["score"] == "validation"
    assert scored.load(Paths(tmp_path).scored("dense")).split == "validation"
    rows = rows_of(Paths(tmp_path).cache, protocol_of(Paths(tmp_path).cache, 0.2))
    assert len(rows.choose.ids) == 24 and len(rows.fit.ids) == 96  # 20% of each class's 60 train rows
    history = json.loads(Paths(tmp_path).history("dense").read_text())
    model, _ = saved.load(tmp_path, "dense")
    dev_loss = log_loss(rows.choose.labels, model.predict_proba(rows.choose.features))
    assert dev_loss == pytest.approx(min(history["val_loss"]), rel=1e-4)  # early stopping watched the dev rows


def test_a_class_without_training_images_is_refused_before_anything_is_written(tmp_path, capsys):
    write_feature_cache(tmp_path, n_classes=3)
    with h5py.File(tmp_path / "features.h5", "a") as handle:  # no train row of class 2 any more
        labels = handle["train/labels"][...]
        handle["train/labels"][...] = np.where(labels == 2, 0, labels)
        handle["train"].attrs["sha256_labels"] = "changed on purpose"
    assert classify_main(["--out", str(tmp_path), "--seeds", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: class class2 has no training images") and err.count("\n") == 1
    assert not (tmp_path / "heads").exists()


def test_a_damaged_saved_head_is_refused_in_one_line(tmp_path, capsys):
    write_feature_cache(tmp_path)
    runner.run(fast_config(tmp_path, heads=["logreg"]))
    model_file = saved.model_path(Paths(tmp_path), "logreg")
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(saved.HeadMismatchError, match="is damaged .* run `make heads` again"):
        saved.load(tmp_path, "logreg")
    from classify.export import main as export_main

    assert export_main(["--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "logreg.joblib is damaged" in err and err.count("\n") == 1
