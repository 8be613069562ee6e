"""Many and unequal classes: per-class numbers against scikit-learn, the metric the verdict ranks
by, class weights reaching every optimiser, the confusion matrices legible at 8 and 40 classes,
leakage-free scores from an audit of the same cache, and `make predict`'s TOP_K and wide files."""

import csv
import itertools
import json

import keras
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, classification_report, f1_score
from sklearn.utils.class_weight import compute_class_weight

import cache
from bench.synthetic import gaussian_cache
from classify import scored
from classify import train as heads_train
from classify.config import HeadConfig, PredictConfig
from classify.linear import logreg_pipeline, streamed_logreg
from classify.metrics import scores_of
from classify.part import Part, every_view
from classify.prediction import predict
from classify.protocol import protocol_of
from finetune.config import BaselineConfig, FinetuneConfig
from finetune.tune import run as finetune
from finetune.tutorial import run as run_baseline
from report import figures, verdict
from report import write as report_writer
from report.collect import Method
from report.config import ReportConfig
from tests.conftest import tiny_cache, write_class_folders
from tests.test_audit import GreyThumbnails
from tests.test_outofcore import blob_cache
from tests.tiny_backbone import TinyNet
from workflow.paths import Paths

# --- per-class numbers and the metric ------------------------------------------------------


def predictions(n_classes, images, accuracy, seed, runs=1):
    """Labels of unequal classes and runs' one-hot probabilities right on about `accuracy` of them."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(n_classes, images, p=np.arange(1, n_classes + 1) / np.arange(1, n_classes + 1).sum())
    right = rng.random((runs, images)) < accuracy
    predicted = np.where(right, labels, rng.integers(0, n_classes, (runs, images)))
    return labels, np.eye(n_classes)[predicted]


def test_per_class_numbers_are_scikit_learns_with_intervals_around_them():
    labels, probabilities = predictions(5, 900, 0.7, seed=0)
    (scores,) = scores_of([probabilities], labels, 5)
    predicted = probabilities[0].argmax(-1)
    report = classification_report(labels, predicted, output_dict=True, zero_division=0)
    names = [f"c{k}" for k in range(5)]
    per_class = scores.per_class(names)
    for k, name in enumerate(names):
        for key, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            mine = per_class[name][key]
            assert mine["estimate"] == pytest.approx(report[str(k)][theirs])
            assert mine["low"] < mine["estimate"] < mine["high"]
        assert per_class[name]["support"] == report[str(k)]["support"]
    summary = scores.summary()
    assert summary["balanced_accuracy"]["estimate"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert summary["macro_f1"]["estimate"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert summary["accuracy"]["estimate"] == pytest.approx(report["accuracy"])
    # the smallest class's recall is the least certain
    widths = [per_class[n]["recall"]["high"] - per_class[n]["recall"]["low"] for n in names]
    assert np.argmax(widths) == 0


def test_several_runs_pool_their_predictions_and_images_are_resampled_with_replacement():
    labels, probabilities = predictions(3, 600, 0.8, seed=1, runs=3)
    (pooled,) = scores_of([probabilities], labels, 3)
    recall = [np.mean([np.mean(p.argmax(-1)[labels == k] == k) for p in probabilities]) for k in range(3)]
    np.testing.assert_allclose(pooled.estimate["recall"], recall)  # the mean over runs
    # the percentile bootstrap over images: resample i draws images rng.integers(0, n, n)
    rng = np.random.default_rng(0)
    per_image = (probabilities.argmax(-1) == labels).mean(axis=0)
    means = [per_image[rng.integers(0, 600, (500, 600))].mean(axis=1) for _ in range(8)]
    low, high = np.percentile(np.concatenate(means), [2.5, 97.5])
    assert (pooled.interval("accuracy").low, pooled.interval("accuracy").high) == pytest.approx((low, high))


def test_the_default_metric_switches_at_one_and_a_half_times():
    names = ["a", "b"]
    within = np.repeat([0, 1], [150, 100])
    assert verdict.default_metric(within, names)[0] == "accuracy"
    beyond = np.repeat([0, 1], [151, 100])
    metric, reason = verdict.default_metric(beyond, names)
    assert metric == "balanced_accuracy" and "151" in reason and "1.5×" in reason


def method(name, labels, probabilities, class_names, seconds=1.0):
    runs = len(probabilities)
    data = scored.Scored(
        "test",
        [f"i{i}" for i in range(len(labels))],
        labels,
        probabilities,
        list(range(runs)),
        np.full(runs, seconds),
        0.001,
    )
    meta = {"splits": {"train": {"seconds": 1.0, "rows": 10}}, "image_size": 32, "class_names": class_names}
    return Method(name, name, None, meta, {}, data)


def test_a_class_that_differs_beyond_noise_gets_its_sentence_though_the_verdict_is_within_noise():
    # A finds all 60 of class "rare", B 30; B finds all of "common", A all but 30: on 3,000 images
    # their accuracy is the same, while each class's recall differs beyond noise.
    labels = np.repeat([0, 1, 2], [1500, 1440, 60])
    a = np.eye(3)[labels][None].copy()
    b = a.copy()
    b[0, np.flatnonzero(labels == 2)[:30]] = np.eye(3)[0]
    wrong = np.flatnonzero(labels == 0)[:30]
    a[0, wrong] = np.eye(3)[1]  # A pays it back on the large class, so accuracy is equal
    names = ["common", "other", "rare"]
    rows = verdict.rows_of([method("A", labels, a, names), method("B", labels, b, names)], "accuracy")
    assert "within noise" in " ".join(verdict.sentences(rows))
    rare, common = verdict.class_sentences(rows, names)  # each class beyond noise, by the method ahead on it
    assert rare.startswith("Per class, against B, A recalls more rare (recall 100.0% against 50.0%")
    assert common.startswith("Per class, against A, B recalls more common (recall 100.0% against 98.0%")
    balanced = verdict.rows_of([method("A", labels, a, names), method("B", labels, b, names)], "balanced_accuracy")
    said = verdict.sentences(balanced)[0]  # ranked by balanced accuracy, A is ahead; McNemar stays on correctness
    assert said.startswith("A is ahead of B, but McNemar's test does not confirm it")
    assert "Δ = +16.0 points of balanced accuracy for A" in said


def test_classes_with_fewer_than_five_images_are_named_in_one_line():
    names = ["common", "other", "rare"]
    labels = np.repeat([0, 1, 2], [50, 50, 3])
    heads = [method(name, labels, np.eye(3)[labels][None], names) for name in ("logreg", "dense")]
    for head in heads:  # heads of one folder share their choice rows: said once
        head.entry = {
            "protocol": {"choose": "validation"},
            "class_counts": {"choose": {"common": 30, "other": 30, "rare": 4}},
        }
    assert report_writer.small_classes(heads, names) == [
        "Fewer than 5 images: in test, rare (3); in the choice rows (validation), rare (4). "
        "Their per-class numbers carry little weight."
    ]
    enough = method("A", np.repeat([0, 1, 2], 5), np.eye(3)[np.repeat([0, 1, 2], 5)][None], names)
    enough.entry = {"protocol": {"choose": "validation"}}  # the tutorial records no class counts
    assert report_writer.small_classes([enough], names) == []


# --- the confusion matrices at K classes ----------------------------------------------------


def overlapping(texts, renderer) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_text()]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


@pytest.mark.slow
@pytest.mark.parametrize("n_classes", [8, 40])
def test_confusion_matrices_keep_their_tick_labels_apart(n_classes):
    names = [f"cell type {k:02d} long" for k in range(n_classes)]
    labels = np.arange(20 * n_classes) % n_classes
    _, probabilities = predictions(n_classes, len(labels), 0.8, seed=2, runs=3)
    rows = verdict.rows_of([method("A", labels, probabilities, names), method("B", labels, probabilities[:1], names)])
    figure = figures.confusion_figure(rows, names)
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    panels = [axis for axis in figure.axes if axis.get_xticklabels()]
    assert len(panels) == 4  # counts and recall for each method
    for axis in panels:
        assert len([t for t in axis.get_xticklabels() if t.get_text()]) == n_classes
        assert overlapping(axis.get_xticklabels(), renderer) == []
        assert overlapping(axis.get_yticklabels(), renderer) == []
    counts = figures.voted_confusion(rows[0], n_classes)
    assert counts.dtype.kind == "i" and counts.sum() == len(labels)  # images, not runs × images
    cells = [t.get_text() for t in panels[0].texts]
    assert all(cell != "0" for cell in cells) if n_classes == 40 else "0" in cells


# --- class weights ---------------------------------------------------------------------------


def unequal_cache(out, counts=(300, 100, 30), dim=16, seed=0):
    """Three overlapping Gaussian classes of unequal size in train, validation and test."""
    rows = {"train": sum(counts), "validation": sum(counts) // 2, "test": sum(counts) // 2}
    names = {"fingerprint": "unequal", "class_names": ["large", "middle", "small"]}
    gaussian_cache(
        Paths(out).cache, 3, rows, dim, spread=0.5, sizes=counts, listing=True, dtype="float32", seed=seed, attrs=names
    )
    return out


@pytest.fixture
def fit_calls(monkeypatch):
    """Every `class_weight` that reaches Keras's `Model.fit`."""
    seen = []
    original = keras.Model.fit

    def fit(self, *args, **kwargs):
        seen.append(kwargs.get("class_weight"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    return seen


@pytest.mark.slow
def test_balanced_class_weights_reach_both_heads_and_lift_the_small_class(tmp_path, fit_calls):
    unequal_cache(tmp_path)
    expected = {"large": 430 / (3 * 300), "middle": 430 / (3 * 100), "small": 430 / (3 * 30)}  # n / (K n_k)
    config = HeadConfig(
        dense_recipe="tutorial",
        out=str(tmp_path),
        seeds=1,
        jobs=1,
        epochs=20,
        learning_rate=1e-3,
        class_weight="balanced",
    )
    weighted = heads_train.run(config)
    for name in ("logreg", "dense"):
        record = weighted[name]["class_weight"]
        assert record["setting"] == "balanced"
        assert record["weights"] == pytest.approx(expected)
        assert weighted[name]["runs"][0]["class_weight"] == record  # each run's optimiser
    assert fit_calls == [pytest.approx({0: expected["large"], 1: expected["middle"], 2: expected["small"]})]
    assert weighted["logreg"]["test"]["per_class"]["small"]["support"] == 15
    plain = heads_train.run(
        HeadConfig(dense_recipe="tutorial", out=str(tmp_path), seeds=1, jobs=1, epochs=20, learning_rate=1e-3)
    )
    assert plain["logreg"]["class_weight"] == {"setting": "none", "weights": None} and fit_calls[-1] is None
    for name in ("logreg", "dense"):
        small = [m[name]["test"]["per_class"]["small"]["recall"]["estimate"] for m in (plain, weighted)]
        assert small[1] > small[0], (name, small)


def test_streamed_logistic_regression_with_class_weights_is_scikit_learns(tmp_path):
    path = blob_cache(tmp_path / "features.h5", 3, views=2)
    part = Part.whole(path, "train")
    X, y, _ = every_view(part.load())
    weights = {0: 0.5, 1: 1.0, 2: 3.0}
    in_memory = logreg_pipeline(0.05, 0, weights).fit(X, y)
    start = logreg_pipeline(0.05, 0, weights).fit(X[::7], y[::7])
    streamed, _ = streamed_logreg(part, 0.05, start, 0, weights)
    test = cache.read_split(path, "test").features.astype(np.float32)
    np.testing.assert_allclose(streamed.predict_proba(test), in_memory.predict_proba(test), atol=2e-3)
    unweighted = logreg_pipeline(0.05, 0).fit(X, y)
    assert np.abs(unweighted.predict_proba(test) - in_memory.predict_proba(test)).max() > 0.05


@pytest.mark.slow
def test_fine_tuning_and_the_tutorial_recipe_pass_their_class_weights_to_fit(
    tmp_path, tiny_weights, engine_dir, fit_calls
):
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 12)
    write_class_folders(data / "train", ["a"], 24, seed=3)  # class a twice b's size
    write_class_folders(data / "validation", ["a", "b"], 4, seed=1)
    out = tmp_path / "out"
    tiny_cache(data, out, tiny_weights, engine_dir)  # any backbone: the tests' tiny one
    # fine-tuning starts from a head weighted as its own runs are (it refuses one weighted otherwise)
    heads_train.run(
        HeadConfig(
            dense_recipe="tutorial", out=str(out), heads=["dense"], epochs=1, jobs=1, seeds=1, class_weight="balanced"
        )
    )
    fit_calls.clear()
    settings = {"out": str(out), "epochs": 1, "batch": 8, "seeds": 1, "class_weight": "balanced"}
    # a search of one candidate for a few steps: what matters is the class weights every fit gets
    search = {"search_rates": [1e-4], "search_depths": [TinyNet.fine_tune_at], "search_steps": 3}
    tuned = finetune(FinetuneConfig(**settings, **search), progress=False)
    baseline = run_baseline(BaselineConfig(**settings), progress=False)
    fit_rows = protocol_of(Paths(out).cache, 0.1)
    labels = cache.labels(Paths(out).cache, "train")
    ids = cache.ids(Paths(out).cache, "train")
    fit_labels = labels[[item not in fit_rows.dev_ids for item in ids]]
    expected = compute_class_weight("balanced", classes=np.arange(2), y=fit_labels)
    assert expected[1] > 1.5 * expected[0]
    # every fit: fine-tuning's search of its rate and depth, its run, and the tutorial's run
    assert len(fit_calls) >= 3 and fit_calls == [pytest.approx({0: expected[0], 1: expected[1]})] * len(fit_calls)
    for entry in (tuned["finetune"], baseline["tutorial"]):
        assert entry["class_weight"]["weights"] == pytest.approx({"a": expected[0], "b": expected[1]})
        assert set(entry["validation"]["per_class"]) == {"a", "b"}  # per-class numbers in its metrics.json


# --- leakage-free scores ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_report_scores_again_without_leaked_images_and_ignores_a_stale_audit(tmp_path, monkeypatch):
    unequal_cache(tmp_path)
    heads_train.run(HeadConfig(out=str(tmp_path), heads=["logreg"], seeds=1, jobs=1))
    monkeypatch.setattr(report_writer, "Thumbnails", GreyThumbnails)
    test_ids = cache.ids(Paths(tmp_path).cache, "test")
    leaked = test_ids[::10]  # 22 of 215: over 5%
    audit = {
        "cache_fingerprint": "unequal",
        "leaked_from_train": {"validation": 0, "test": len(leaked)},
        "leaked_ids": {"validation": [], "test": leaked},
        "counts": {"label": 0, "duplicate": 0, "leakage": len(leaked), "outlier": 0},
        "settings": {"similarity": 0.9},
    }
    Paths(tmp_path).audit_json.write_text(json.dumps(audit))
    content = json.loads(report_writer.write_report(ReportConfig(out=str(tmp_path))).with_suffix(".json").read_text())
    (logreg,) = content["methods"]
    assert logreg["leakage_free"]["n_images"] == len(test_ids) - len(leaked)
    assert set(logreg["leakage_free"]) == {"n_images", "accuracy", "balanced_accuracy", "macro_f1"}
    assert "judged on the 193 without one (leakage-free)" in content["verdict"][-1]
    assert content["metric"] == "balanced_accuracy" and "not within 1.5×" in content["metric_reason"]
    assert set(logreg["per_class"]) == {"large", "middle", "small"}

    Paths(tmp_path).audit_json.write_text(json.dumps(audit | {"cache_fingerprint": "another"}))
    content = json.loads(report_writer.write_report(ReportConfig(out=str(tmp_path))).with_suffix(".json").read_text())
    assert "leakage_free" not in content["methods"][0]
    assert content["verdict"][-1].startswith("Ignored") and "another cache" in content["verdict"][-1]


# --- make predict ------------------------------------------------------------------------------


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_top_k_columns_and_more_than_twenty_classes_in_their_own_file(tmp_path, tiny_weights, engine_dir):
    classes = [f"k{k:02d}" for k in range(21)]
    write_class_folders(tmp_path / "data" / "train", classes, 4)
    write_class_folders(tmp_path / "data" / "validation", classes, 1, seed=1)
    out = tmp_path / "out"
    tiny_cache(tmp_path / "data", out, tiny_weights, engine_dir)
    heads_train.run(HeadConfig(out=str(out), heads=["logreg"], seeds=1, jobs=1, folds=2))
    images = tmp_path / "data" / "validation"
    predict(PredictConfig(images=[str(images)], out=str(out), top_k=3), progress=False)
    rows = read_rows(Paths(out).predictions)
    assert len(rows) == 21 and list(rows[0]) == [
        "path",
        "label",
        "score",
        "label_2",
        "score_2",
        "label_3",
        "score_3",
        "error",
    ]
    wide = read_rows(Paths(out).prediction_probabilities)
    assert [r["path"] for r in wide] == [r["path"] for r in rows] and len(wide[0]) == 22
    for row, probabilities in zip(rows, wide, strict=True):
        scores = [float(row[key]) for key in ("score", "score_2", "score_3")]
        assert scores == sorted(scores, reverse=True)
        assert float(probabilities[f"p_{row['label_2']}"]) == pytest.approx(scores[1], abs=1e-6)
