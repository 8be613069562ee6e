"""Augmented views in the cache (VIEWS, VIEW_POLICY), heads on every view, test-time augmentation."""

import csv

import numpy as np
import pytest
import tensorflow as tf

import cache
from classify import saved, scored
from classify import train as heads_train
from classify.config import HeadConfig, PredictConfig
from classify.heads.logreg import folds_of
from classify.prediction import predict
from extract.network.feature_source import DEFAULT_LAYERS, source_of
from extract.reading import augment, pipeline
from extract.reading.sources import folder_source
from extract.running import build
from tests.conftest import TINY, colour_image, seen_by, small_shards, write_class_folders
from tests.tiny_backbone import TinyNet
from workflow.paths import Paths

pytestmark = pytest.mark.slow  # extractions with augmented views


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    write_class_folders(root / "train", ["a", "b"], 12)
    write_class_folders(root / "validation", ["a", "b"], 4, seed=1)
    return root


def extracted(data, out, weights, engine_dir, **settings):
    return build.run(small_shards(data, out, weights, engine_dir, **settings), progress=False).path


def test_a_view_is_a_pure_function_of_the_image_id_and_index():
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, (40, 48, 3)).astype("float32"))
    seed = tf.constant(augment.seed_of("train/a/x.jpg"), tf.int64)
    first, again = augment.views(image, seed, 4, "finetune"), augment.views(image, seed, 4, "finetune")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[0], image)  # view 0 is the image itself
    assert all(float(tf.reduce_mean(tf.abs(first[k] - image))) > 1 for k in (1, 2, 3))  # the others differ
    other = augment.views(image, tf.constant(augment.seed_of("train/a/y.jpg"), tf.int64), 4, "finetune")
    assert not np.array_equal(first[1], other[1])


def test_the_flip_view_of_a_symmetric_image_is_the_image():
    half = np.random.default_rng(1).uniform(0, 255, (40, 24, 3)).astype("float32")
    symmetric = tf.constant(np.concatenate([half, half[:, ::-1]], axis=1))
    views = augment.views(symmetric, tf.constant(7, tf.int64), 2, "flip")
    np.testing.assert_array_equal(views[1], views[0])


def test_the_pipeline_makes_the_same_views_from_any_start(data):
    split = folder_source(data).splits[0]
    whole = dict(
        (int(p), v)
        for positions, batch in pipeline.batches(split, 0, TINY, 4, views=3, policy="finetune", backbone="mobilenet_v2")
        for p, v in zip(positions, batch, strict=True)
    )
    resumed = dict(
        (int(p), v)
        for positions, batch in pipeline.batches(split, 8, TINY, 4, views=3, policy="finetune", backbone="mobilenet_v2")
        for p, v in zip(positions, batch, strict=True)
    )
    assert next(iter(whole.values())).shape == (3, TINY, TINY, 3)
    for position, views in resumed.items():
        np.testing.assert_array_equal(views, whole[position])


def test_a_cache_with_views_keeps_the_images_own_rows_and_updates_like_a_fresh_build(
    data, tmp_path, random_weights, engine_dir
):
    plain = extracted(data, tmp_path / "plain", random_weights, engine_dir)
    viewed = extracted(data, tmp_path / "viewed", random_weights, engine_dir, views=3, view_policy="finetune")
    assert cache.info(viewed)["views"] == 3 and cache.info(viewed)["view_policy"] == "finetune"
    for split in ("train", "validation"):
        np.testing.assert_array_equal(cache.load(viewed, split)[0], cache.load(plain, split)[0])
        every, labels = cache.load(viewed, split, views=True)
        assert every.shape == (len(labels), 3, source_of(DEFAULT_LAYERS).width)
        np.testing.assert_array_equal(every[:, 0], cache.load(plain, split)[0])
        assert np.abs(every[:, 1] - every[:, 0]).max() > 1e-3
    assert cache.load(plain, "train", views=True)[0].shape[1] == 1  # a cache without views reads as K=1


@pytest.mark.parametrize("policy, views, layers", [("finetune", 3, "last"), ("flip", 2, "blocks")])
def test_an_update_with_views_is_the_fresh_build_bit_for_bit(
    tmp_path, random_weights, engine_dir, policy, views, layers
):
    """A file added, one moved to another class folder and one copied: views are seeded by content,
    so the rows an update reuses by content carry the views a fresh build makes, in every feature block."""
    data = write_class_folders(tmp_path / "data" / "train", ["a", "b"], 8).parent
    write_class_folders(data / "validation", ["a", "b"], 2, seed=1)
    settings = {"views": views, "view_policy": policy, "layers": layers}
    extracted(data, tmp_path / "updated", random_weights, engine_dir, **settings)
    colour_image(0, 77).save(data / "train" / "a" / "a.added.jpg")
    (data / "train" / "a" / "a.3.jpg").rename(data / "train" / "b" / "moved.jpg")
    (data / "train" / "b" / "copy.jpg").write_bytes((data / "train" / "a" / "a.5.jpg").read_bytes())
    update = extracted(data, tmp_path / "updated", random_weights, engine_dir, **settings)
    fresh = extracted(data, tmp_path / "fresh", random_weights, engine_dir, **settings)
    assert cache.info(update)["splits"]["train"]["extracted"] == 1  # the added file alone
    assert {"train/b/moved.jpg", "train/b/copy.jpg"} <= set(cache.ids(update, "train"))
    for split in ("train", "validation"):
        updated, again = (cache.read_split(path, split, views=True) for path in (update, fresh))
        assert updated.ids == again.ids
        np.testing.assert_array_equal(updated.labels, again.labels)
        np.testing.assert_array_equal(updated.features, again.features)
    assert len(cache.info(update)["blocks"]) == {"last": 1, "blocks": 18}[layers]
    assert cache.read_split(update, "train", views=True).features.shape[1:] == (
        views,
        {"last": 1280, "blocks": 2784}[layers],
    )


def test_grouped_folds_never_split_an_images_views():
    labels = np.repeat(np.arange(30) % 2, 4)
    groups = np.repeat(np.arange(30), 4)
    folds = folds_of(HeadConfig(folds=5), labels, groups)
    for fit, held_out in folds.split(np.zeros((len(labels), 1)), labels, groups):
        assert not set(groups[fit]) & set(groups[held_out])


def test_heads_train_on_every_view_and_tta_is_the_mean_over_views(data, tmp_path, tiny_weights, engine_dir):
    path = extracted(data, tmp_path, tiny_weights, engine_dir, views=2, backbone=TinyNet.name)  # any backbone
    metrics = heads_train.run(HeadConfig(dense_recipe="tutorial", out=str(tmp_path), seeds=2, jobs=1, epochs=3))
    assert set(metrics) == {"logreg", "logreg_tta", "dense", "dense_tta"}
    model, _ = saved.load(str(tmp_path), "logreg")
    features = seen_by(tmp_path, "logreg", "validation", views=True).features
    expected = np.mean([model.predict_proba(features[:, k]) for k in range(2)], axis=0)
    tta = scored.load(Paths(tmp_path).scored("logreg_tta"))
    run = tta.seeds.index(metrics["logreg"]["saved_seed"])
    np.testing.assert_allclose(tta.probabilities[run], expected, rtol=1e-6)
    plain = scored.load(Paths(tmp_path).scored("logreg"))
    np.testing.assert_allclose(plain.probabilities[run], model.predict_proba(features[:, 0]), rtol=1e-6)

    rows = tmp_path / "predictions.csv"
    assert predict(PredictConfig(images=[str(data / "validation")], out=str(tmp_path), tta=True), False)
    with open(rows) as handle:
        predicted = {row["path"]: float(row["score"]) for row in csv.DictReader(handle)}
    ids = cache.ids(path, "validation")
    by_file = {str(data / item): expected[i].max() for i, item in enumerate(ids)}
    for item, probability in by_file.items():
        assert predicted[item] == pytest.approx(probability, abs=1e-5)


def test_predict_with_tta_on_a_cache_without_views_is_one_clear_error(data, tmp_path, tiny_weights, engine_dir):
    extracted(data, tmp_path, tiny_weights, engine_dir, backbone=TinyNet.name)
    heads_train.run(HeadConfig(out=str(tmp_path), heads=["logreg"], seeds=1, jobs=1))
    with pytest.raises(cache.CacheError, match="VIEWS=2"):
        predict(PredictConfig(images=[str(data / "validation")], out=str(tmp_path), tta=True), False)


def test_the_audit_trains_on_every_view_and_holds_an_images_views_out_together(
    data, tmp_path, random_weights, engine_dir
):
    from audit import find
    from audit.config import AuditConfig

    path = extracted(data, tmp_path, random_weights, engine_dir, views=2)
    pooled = find.pooled(path)
    assert pooled.views.shape == (len(pooled.ids), 2, 1280)
    np.testing.assert_allclose(np.linalg.norm(pooled.features, axis=1), 1.0, rtol=1e-5)
    found = find.label_issues(path, AuditConfig(out=str(tmp_path), jobs=1), pooled)
    assert list(found.columns) == find.COLUMNS and set(found["id"]) <= set(pooled.ids)
