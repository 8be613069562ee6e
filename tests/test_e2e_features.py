"""End to end on the real photos and ImageNet weights in ../shared (required in CI)."""

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

import cache
from extract.network import backbone, engines
from extract.network.feature_source import DEFAULT_LAYERS, source_of
from extract.reading import images
from tests.conftest import SHARED_DATA, SHARED_WEIGHTS, require_shared


def test_real_photos_give_features_a_linear_model_separates(shared_cache):
    meta = cache.info(shared_cache)
    assert meta["class_names"] == ["cats", "dogs"]
    assert {name: s["rows"] for name, s in meta["splits"].items()} == {"train": 2000, "validation": 1000}
    assert meta["blocks"] == source_of(DEFAULT_LAYERS).blocks
    X, y = cache.load(shared_cache, "train", blocks=["out_relu"])  # the last layer alone: the tutorial's features
    Xv, yv = cache.load(shared_cache, "validation", blocks=["out_relu"])
    assert X.shape == (2000, 1280) and list(np.bincount(y)) == [1000, 1000]
    accuracy = LogisticRegression(max_iter=3000).fit(X, y).score(Xv, yv)
    assert accuracy >= 0.965, accuracy


def test_both_engines_give_the_same_features_on_real_photos(engine_dir):
    require_shared()
    paths = sorted((SHARED_DATA / "validation").glob("*/*.jpg"))[::31][:32]
    batch = np.stack([images.preprocess(tf.io.read_file(str(p)), 160, "mobilenet_v2").numpy() for p in paths])
    model = backbone.build_backbone(str(SHARED_WEIGHTS), 160)
    digest = backbone.weights_sha256(model)
    by_keras = engines.make_engine("keras", model, digest, 160, 32, engine_dir)(batch)
    by_tflite = engines.make_engine("tflite", model, digest, 160, 32, engine_dir)(batch)
    np.testing.assert_allclose(by_tflite, by_keras, atol=2e-4)
    cosine = (by_tflite * by_keras).sum(1) / np.linalg.norm(by_tflite, axis=1) / np.linalg.norm(by_keras, axis=1)
    assert cosine.min() > 0.99999
