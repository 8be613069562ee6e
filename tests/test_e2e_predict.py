"""Prediction and export on the real photos reproduce what the heads measured."""

import csv

import keras
import numpy as np
import tensorflow as tf

from classify import fuse
from classify.config import ExportConfig, PredictConfig
from classify.prediction import predict
from extract.reading import images
from tests.conftest import SHARED_DATA, SHARED_WEIGHTS


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_predicting_validation_reproduces_its_accuracy(shared_cache, shared_heads):
    out = shared_cache.parent
    predict(
        PredictConfig(images=[str(SHARED_DATA / "validation")], out=str(out), weights=str(SHARED_WEIGHTS)),
        progress=False,
    )
    rows = rows_of(out / "predictions.csv")
    assert len(rows) == 1000 and not any(r["error"] for r in rows)
    accuracy = np.mean([r["label"] == r["path"].split("/")[-2] for r in rows])
    assert accuracy == shared_heads["logreg"]["validation"]["accuracy"]


def test_exported_models_equal_the_two_step_path_on_real_photos(shared_cache, shared_heads):
    out = shared_cache.parent
    paths = sorted((SHARED_DATA / "validation").glob("*/*.jpg"))[::16]
    x = np.stack([images.preprocess(tf.io.read_file(str(p)), 160, "mobilenet_v2").numpy() for p in paths])
    for head in ("logreg", "dense"):
        keras_path, *_ = fuse.export(ExportConfig(out=str(out), head=head))
        predict(
            PredictConfig(images=[str(p) for p in paths], out=str(out), head=head, weights=str(SHARED_WEIGHTS)),
            progress=False,
        )
        rows = rows_of(out / "predictions.csv")
        two_step = np.array([float(r["score"]) if r["label"] == "dogs" else 1 - float(r["score"]) for r in rows])
        fused = keras.saving.load_model(keras_path).predict(x, verbose=0)[:, 1]
        np.testing.assert_allclose(fused, two_step, atol=1e-4)
