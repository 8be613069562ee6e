import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import cache
from classify import fuse, saved
from classify import train as heads_train
from classify.config import ExportConfig, HeadConfig, PredictConfig
from classify.export import main as export_main
from classify.heads import REGISTRY
from classify.heads.logreg import LogReg
from classify.predict import main as predict_main
from classify.prediction import predict
from extract.network.backbone import WeightsError
from extract.reading import images
from finetune.config import FinetuneConfig
from finetune.tune import run as finetune
from tests.conftest import (
    TINY,
    colour_image,
    other_tiny_weights,
    seen_by,
    tiny_cache,
    write_bad_files,
    write_class_folders,
)
from tests.tiny_backbone import TinyNet
from workflow.paths import Paths

pytestmark = pytest.mark.slow  # every head trained, then predict and export through TFLite


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_weights, engine_dir):
    """Three classes of generated images: a cache on the tests' tiny backbone, every registered head
    and a fine-tuned model (MobileNetV2's predict and export: test_e2e_predict.py, test_int8.py)."""
    root = tmp_path_factory.mktemp("predict")
    write_class_folders(root / "data" / "train", ["a", "b", "c"], 10)
    write_class_folders(root / "data" / "validation", ["a", "b", "c"], 4, seed=1)
    out = root / "artifacts"
    tiny_cache(root / "data", out, tiny_weights, engine_dir)
    config = HeadConfig(dense_recipe="tutorial", out=str(out), epochs=3, jobs=1, folds=2, seeds=1, heads=list(REGISTRY))
    heads_train.run(config)
    search = dict(search_steps=3, search_rates=[1e-4])  # the fewest steps allowed, the backbone's two depths
    finetune(
        FinetuneConfig(out=str(out), weights=str(tiny_weights), epochs=1, batch=8, seeds=1, **search), progress=False
    )
    return root, out


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("head", [*REGISTRY, "finetune"])
def test_predictions_csv_has_a_row_per_file_and_reports_bad_ones(trained, tiny_weights, tmp_path, head):
    root, out = trained
    folder = tmp_path / "new"
    write_class_folders(folder / "nested" / "deeper", ["x"], 3, seed=4)
    expected = write_bad_files(folder / "odd")
    config = PredictConfig(images=[str(folder)], out=str(out), head=head, weights=str(tiny_weights), batch=4)
    counts = predict(config, progress=False)
    rows = read_rows(out / "predictions.csv")
    assert list(rows[0]) == ["path", "label", "score", "p_a", "p_b", "p_c", "error"]
    assert len(rows) == 3 + len(expected) == sum(counts.values())
    assert [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    for name, decodes in expected.items():
        row = by_name[name]
        if decodes:
            assert row["label"] in ("a", "b", "c") and not row["error"]
            probabilities = [float(row[f"p_{c}"]) for c in "abc"]
            assert sum(probabilities) == pytest.approx(1, abs=1e-5)
            assert float(row["score"]) == pytest.approx(max(probabilities), abs=1e-6)
        else:
            assert row["label"] == "" and row["score"] == "" and row["error"]
    assert counts[""] == sum(not ok for ok in expected.values())


def test_predictions_on_cached_images_equal_what_the_heads_saw(trained, tiny_weights):
    root, out = trained
    for head in REGISTRY:
        model, _ = saved.load(out, head)
        validation = seen_by(out, head, "validation")
        seen = model.predict_proba(validation.features)
        predict(
            PredictConfig(
                images=[str(root / "data" / "validation")], out=str(out), head=head, weights=str(tiny_weights)
            ),
            progress=False,
        )
        rows = {r["path"]: r for r in read_rows(out / "predictions.csv")}  # the cache's rows are in its own order
        assert sorted(rows) == sorted(str(root / "data" / i) for i in validation.ids)
        predicted = np.array([[float(rows[str(root / "data" / i)][f"p_{c}"]) for c in "abc"] for i in validation.ids])
        np.testing.assert_allclose(predicted, seen, atol=1e-5)


def test_predict_refuses_other_weights_and_missing_inputs(trained, tmp_path, capsys):
    root, out = trained
    other = other_tiny_weights(tmp_path)
    with pytest.raises(WeightsError, match="not those the logreg head was built with"):
        predict(PredictConfig(images=[str(root / "data")], out=str(out), weights=str(other)), progress=False)
    assert predict_main([str(tmp_path / "missing"), "--out", str(out), "--quiet"]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_export_cli_writes_both_files_and_refuses_other_weights(trained, tmp_path, capsys):
    _, out = trained
    assert export_main(["--out", str(out), "--head", "dense", "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    files = Paths(out)
    assert printed == [str(files.export_keras), str(files.export_tflite), str(files.export_record)]
    assert all(Path(p).stat().st_size > 0 for p in printed)
    other = other_tiny_weights(tmp_path)
    assert export_main(["--out", str(out), "--weights", str(other), "--quiet"]) == 1
    assert "not those the logreg head was built with" in capsys.readouterr().err


def preprocessed(paths, size):
    return np.stack([images.preprocess(tf.io.read_file(str(p)), size, TinyNet.name).numpy() for p in paths])


def test_a_head_with_no_keras_form_is_refused_by_export_in_one_line(trained, capsys):
    _, out = trained
    for head in (name for name, kind in REGISTRY.items() if not kind.fuses):
        assert export_main(["--out", str(out), "--head", head, "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {head} cannot be fused") and err.count("\n") == 1


@pytest.mark.parametrize("head", [*(name for name, kind in REGISTRY.items() if kind.fuses), "finetune"])
def test_exported_model_equals_the_two_step_path(trained, tiny_weights, head):
    root, out = trained
    keras_path, tflite_path, *_ = fuse.export(ExportConfig(out=str(out), head=head))
    paths = sorted((root / "data" / "validation").rglob("*.jpg"))
    x = preprocessed(paths, TINY)
    predict(
        PredictConfig(images=[str(p) for p in paths], out=str(out), head=head, weights=str(tiny_weights)),
        progress=False,
    )
    two_step = np.array([[float(r[f"p_{c}"]) for c in "abc"] for r in read_rows(out / "predictions.csv")])
    import keras

    fused = keras.saving.load_model(keras_path)
    np.testing.assert_allclose(fused.predict(x, verbose=0), two_step, atol=1e-4)
    np.testing.assert_allclose(by_tflite(tflite_path, x), two_step, atol=1e-4)


def by_tflite(path, x):
    """The exported TFLite model's output for the whole batch `x`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def trained_on_blocks(tmp_path_factory, tiny_weights, engine_dir):
    """A cache of the tiny backbone's three blocks (the early ones pool more than one position) and
    a logistic regression on their concatenation, as the heads see a multi-block cache."""
    root = tmp_path_factory.mktemp("blocks")
    write_class_folders(root / "data" / "train", ["a", "b", "c"], 10)
    write_class_folders(root / "data" / "validation", ["a", "b", "c"], 4, seed=1)
    out = root / "artifacts"
    tiny_cache(root / "data", out, tiny_weights, engine_dir, layers="blocks")
    heads_train.run(HeadConfig(out=str(out), heads=["logreg"], jobs=1, folds=2, seeds=1))
    return root, out


@pytest.mark.parametrize(
    ("features", "layers"),
    [("choose", ["tiny_block_1", "tiny_block_2", "tiny_out"]), ("last", ["tiny_out"])],
)
def test_predict_and_export_on_several_blocks_give_the_heads_probabilities(
    trained_on_blocks, tiny_weights, features, layers
):
    root, out = trained_on_blocks
    if features != "choose":  # the same cache, the head on the blocks FEATURES names alone
        out = root / features
        out.mkdir(exist_ok=True)
        shutil.copy(Paths(trained_on_blocks[1]).cache, Paths(out).cache)
        heads_train.run(HeadConfig(out=str(out), heads=["logreg"], jobs=1, folds=2, seeds=1, features=features))
    validation = cache.read_split(Paths(out).cache, "validation")
    assert validation.features.shape[1] == 8 + 16 + 24
    model, record = saved.load(out, "logreg")
    assert record["feature_source"]["layers"] == layers
    # what the head saw: the columns of the blocks it chose
    seen = model.predict_proba(cache.read_split(Paths(out).cache, "validation", blocks=layers).features)
    paths = [root / "data" / i for i in validation.ids]
    predict(PredictConfig(images=[str(p) for p in paths], out=str(out), weights=str(tiny_weights)), progress=False)
    predicted = np.array([[float(r[f"p_{c}"]) for c in "abc"] for r in read_rows(out / "predictions.csv")])
    np.testing.assert_allclose(predicted, seen, atol=1e-4)
    keras_path, tflite_path, *_ = fuse.export(ExportConfig(out=str(out), head="logreg"))
    import keras

    x = preprocessed(paths, TINY)
    np.testing.assert_allclose(keras.saving.load_model(keras_path).predict(x, verbose=0), seen, atol=1e-4)
    np.testing.assert_allclose(by_tflite(tflite_path, x), seen, atol=1e-4)


def test_logistic_regression_folds_into_one_dense_layer():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    for n_classes in (2, 3):
        X = rng.normal(3, 2, (120, 8))
        y = np.arange(120) % n_classes
        X[:, 0] += y
        pipeline = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())]).fit(X, y)
        model = LogReg(model=pipeline).to_keras()
        np.testing.assert_allclose(np.asarray(model(X.astype("float32"))), pipeline.predict_proba(X), atol=1e-5)


def test_odd_names_get_their_rows_and_broken_links_an_error(trained, tmp_path):
    _, out = trained
    folder = tmp_path / "new"
    write_class_folders(folder, ["x"], 2, seed=5)
    odd = os.fsencode(folder / "x") + b"/caf\xe9.jpg"  # Latin-1, not UTF-8
    colour_image(1, 77).save(open(odd, "wb"), format="JPEG")
    (folder / "x" / "gone.jpg").symlink_to(folder / "x" / "nowhere.jpg")
    counts = predict(PredictConfig(images=[str(folder)], out=str(out)), progress=False)
    with open(Paths(out).predictions, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        rows = {os.fsencode(row["path"]): row for row in csv.DictReader(handle)}
    assert len(rows) == 4 and sum(counts.values()) == 4
    assert rows[odd]["label"] in ("a", "b", "c") and not rows[odd]["error"]
    gone = rows[os.fsencode(folder / "x" / "gone.jpg")]
    assert gone["label"] == "" and gone["error"] == "unreadable: No such file or directory"
