"""PRECISION=int8: calibration on the user's own train images, the engine it makes, and the check
against float32 (generated images and random weights; the real photos in test_e2e_int8.py)."""

import csv
import json

import numpy as np
import pytest
from conftest import TINY, generated_cache, private_copy, small_shards, write_class_folders

import cache
from classify import fuse, saved
from classify import train as heads_train
from classify.config import ExportConfig, HeadConfig, PredictConfig
from classify.prediction import predict
from classify.protocol import dev_ids
from extract.__main__ import main as extract_main
from extract.config import ExtractConfig
from extract.network import backbone, calibration, engines
from extract.network.feature_source import source_of
from extract.reading.sources import open_source
from extract.running import build
from tests.conftest import seen_by
from workflow.paths import Paths

pytestmark = pytest.mark.slow  # int8 conversions and calibrated extractions


def test_the_calibration_sample_is_stable_stratified_and_clear_of_the_dev_rows(tmp_path):
    data = write_class_folders(tmp_path / "data", ["a", "b", "c"], 30)
    train = next(s for s in open_source(str(data)).splits if s.name == "train")
    chosen = calibration.calibration_positions(train, 30)
    assert len(chosen) == 30
    assert np.bincount(train.labels[chosen]).tolist() == [10, 10, 10]  # every class, equally
    dev = dev_ids(train.ids, train.labels, 0.1)
    assert not dev & {train.ids[i] for i in chosen}
    assert calibration.calibration_positions(train, 30) == chosen  # a pure function of the ids

    # a new file joins the sample only where its hash ranks among its class's highest
    write_class_folders(tmp_path / "more", ["a"], 1, seed=9)
    (tmp_path / "more" / "a" / "a.0.jpg").rename(data / "a" / "new.jpg")
    grown = next(s for s in open_source(str(data)).splits if s.name == "train")
    before = {train.ids[i] for i in chosen}
    after = {grown.ids[i] for i in calibration.calibration_positions(grown, 30)}
    assert len(before ^ after) <= 2


# Blocks out of the network's order: each block must still land in its own columns.
LAYERS = "block_3_project_BN,out_relu,block_2_add"


@pytest.fixture(scope="module")
def int8_built(tmp_path_factory, random_weights, engine_dir):
    """One int8 cache for the module (each int8 conversion costs most of a minute on two cores):
    train and validation folders, three blocks out of order, calibrated on 8 train images."""
    root = tmp_path_factory.mktemp("int8")
    write_class_folders(root / "data" / "train", ["a", "b"], 20)
    write_class_folders(root / "data" / "validation", ["a", "b"], 6, seed=1)
    config = small_shards(
        root / "data", root / "out", random_weights, engine_dir, precision="int8", calibration=8, layers=LAYERS, batch=2
    )
    return root, config, build.run(config, progress=False)


def test_the_int8_cache_records_its_precision_and_agreement(int8_built, random_weights, engine_dir, tmp_path):
    root, int8_config, summary = int8_built
    meta = cache.info(summary.path)
    assert meta["precision"] == "int8" and meta["calibration"]
    check = meta["precision_check"]
    assert check["rows"] == 4 and check["calibration_images"] == 8  # the dev rows: 2 of each class's 20
    assert -1 <= check["cosine_min"] <= check["cosine_mean"] <= 1
    assert 0 <= check["accuracy_int8"] <= 1 and 0 <= check["accuracy_float32"] <= 1
    assert check["speedup"] > 0  # measured on the check's batches after the first (batches of 2)
    line = summary.precision_lines()[0]  # no test split: the dev rows of train choose
    assert line.startswith("int8 (calibrated on 8 train images, none of them choice rows) against float32")
    assert "on 4 choice rows (dev), a weak check" in line
    assert any(f"-int8-{meta['calibration'][:16]}" in p.name for p in engine_dir.iterdir())

    data = root / "data"
    float_cache = generated_cache(data, tmp_path / "float", random_weights, engine_dir, batch=4, layers=LAYERS)
    float_meta = cache.info(float_cache)
    assert float_meta["precision"] == "float32" and "precision_check" not in float_meta
    assert float_meta["fingerprint"] != meta["fingerprint"]
    assert build.summary_of(float_cache, "").precision_lines() == []
    # the int8 features are near float32's block by block, each in its own columns, and not equal to them
    a, b = cache.load(float_cache, "train")[0], cache.load(summary.path, "train")[0]
    assert not np.array_equal(a, b)
    start = 0
    for layer, width in source_of(LAYERS).blocks.items():
        block = slice(start, start + width)
        assert np.corrcoef(a[:, block].ravel(), b[:, block].ravel())[0, 1] > 0.9, layer
        start += width
    assert start == a.shape[1]

    assert build.run(int8_config, progress=False).status == "up to date"
    # another calibration sample is another engine and another cache: both are keyed by its digest
    source = open_source(str(data))
    assert meta["calibration"] == calibration.of_source(source, 8, TINY, "mobilenet_v2").digest
    assert calibration.of_source(source, 16, TINY, "mobilenet_v2").digest != meta["calibration"]


def test_calibration_is_deterministic_and_makes_an_integer_model(int8_built, random_weights, engine_dir):
    """The same weights and the same images give the same int8 engine: converted here again, from a
    model built anew, it computes exactly what the engine the module's cache was built with does."""
    import tensorflow as tf

    root, _, _ = int8_built
    model = backbone.build_backbone(str(random_weights), TINY, source_of(LAYERS))
    sample = calibration.of_source(open_source(str(root / "data")), 8, TINY, "mobilenet_v2")
    kept = engines.tflite_file(model, backbone.weights_sha256(model), TINY, engine_dir, sample)
    again = tf.lite.Interpreter(model_content=engines.to_tflite(model, sample.samples))
    before = tf.lite.Interpreter(model_path=str(kept))
    batch = np.concatenate([inputs for _, inputs in calibration.images(sample.split, TINY, "mobilenet_v2")])[:1]
    outputs = []
    for interpreter in (before, again):
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    kinds = {np.dtype(t["dtype"]).name for t in before.get_tensor_details()}
    assert "int8" in kinds  # full integer inside (the float model holds float32 alone), float at the edges
    assert before.get_input_details()[0]["dtype"] == np.float32


def test_describe_warns_beyond_the_tolerance_naming_the_way_back():
    check = {
        "rows": 200,
        "split": "dev",
        "calibration_images": 200,
        "cosine_mean": 0.5,
        "cosine_min": 0.1,
        "accuracy_float32": 0.95,
        "accuracy_int8": 0.95 - calibration.TOLERANCE - 0.01,
        "tolerance": calibration.TOLERANCE,
    }
    lines = calibration.describe(check)
    assert len(lines) == 2 and lines[1].startswith("warning:") and "PRECISION=float32" in lines[1]
    assert len(calibration.describe(check | {"accuracy_int8": 0.95 - calibration.TOLERANCE / 2})) == 1


def test_describe_notes_an_int8_engine_that_is_no_faster_on_this_cpu():
    check = {
        "rows": 200,
        "split": "dev",
        "calibration_images": 200,
        "cosine_mean": 0.97,
        "cosine_min": 0.9,
        "accuracy_float32": 0.95,
        "accuracy_int8": 0.95,
        "tolerance": calibration.TOLERANCE,
    }
    slow = calibration.describe(check | {"speedup": 0.97})
    assert "int8 ran 0.97x float32's speed" in slow[0]
    assert len(slow) == 2 and slow[1].startswith("note:") and "PRECISION=float32" in slow[1]
    assert len(calibration.describe(check | {"speedup": 2.3})) == 1
    assert len(calibration.describe(check | {"speedup": None})) == 1  # one batch: nothing timed


def test_int8_with_the_keras_engine_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(ValueError, match="PRECISION=int8 runs on the TFLite engine"):
        ExtractConfig(engine="keras", precision="int8")
    with pytest.raises(SystemExit) as exited:
        extract_main(["--engine", "keras", "--precision", "int8", "--out", str(tmp_path)])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after argparse's usage lines
    assert error.startswith("python -m extract: error: PRECISION=int8") and "ENGINE=keras stays float32" in error
    with pytest.raises(engines.EngineError):  # ENGINE=auto that resolves to Keras (a GPU) is refused there
        engines.make_engine("keras", None, "", TINY, 1, tmp_path, calibration=object())


def test_a_head_on_some_blocks_of_an_int8_cache_predicts_and_exports_on_its_int8_features(
    int8_built, random_weights, engine_dir, tmp_path
):
    root, _, summary = int8_built
    out = private_copy(summary.path.parent, tmp_path)
    heads_train.run(HeadConfig(out=str(out), heads=["logreg"], jobs=1, folds=2, seeds=1, features="last"))
    validation = str(root / "data" / "validation")

    # what the head saw: the last layer's columns of the cache's int8 features, not float32's
    predict(PredictConfig(images=[validation], out=str(out), batch=4, engine_dir=str(engine_dir)), progress=False)
    model, _ = saved.load(out, "logreg")
    seen = seen_by(out, "logreg", "validation")
    assert seen.features.shape[1] == source_of("out_relu").width
    expected = model.predict_proba(seen.features.astype(np.float32)).max(axis=1)
    rows = {row["path"]: row for row in csv.DictReader(open(out / "predictions.csv", newline=""))}
    scores = [float(rows[str(root / "data" / item)]["score"]) for item in seen.ids]
    np.testing.assert_allclose(scores, expected, atol=1e-5)

    # its int8 export: the fused model taps the chosen block alone
    written = fuse.export(ExportConfig(out=str(out), head="logreg", precision="int8"))
    assert [p.name for p in written] == ["model.keras", "model.tflite", "export.json", "model.int8.tflite"]
    exported = json.loads(Paths(out).export_record.read_text())
    agreement = exported["agreement"]
    # the head saw int8 features; model.tflite holds a float32 backbone: how often each file gives predict's class
    assert exported["backbone_precision"]["model.tflite"] == "float32"
    with_predict = exported["agreement_with_predict"]
    assert with_predict["rows"] == agreement["rows"] and with_predict["split"] == "dev"
    assert {"model.tflite", "model.int8.tflite"} <= set(with_predict)
    assert all(0 <= with_predict[name]["same_class"] <= 1 for name in ("model.tflite", "model.int8.tflite"))
    assert agreement["calibration_images"] == 8 and agreement["same_class"] > 0.5
    # the choice rows alone (dev: no test split), never the train rows the head was fitted on
    train = Paths(out).cache, "train"
    assert agreement["rows"] == len(dev_ids(cache.ids(*train), cache.labels(*train), HeadConfig().dev_fraction)) == 4
    predict(PredictConfig(images=[validation], out=str(out), batch=4, precision="int8"), progress=False)
    rows = list(csv.DictReader(open(out / "predictions.csv", newline="")))
    assert len(rows) == 12 and all(row["label"] in ("a", "b") for row in rows)
    with pytest.raises(cache.CacheError, match="is of the logreg model"):
        predict(PredictConfig(images=[validation], out=str(out), head="dense", precision="int8"), progress=False)
