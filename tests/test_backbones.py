"""Backbones as a registry (issue 36): every registered backbone's cache equals `keras.applications`'
own model under its own `preprocess_input`; a cache of one backbone is never read as another's; and
a backbone registered from a test module (`tests/tiny_backbone.py`) goes through every stage."""

import csv
import json

import numpy as np
import pytest
import tensorflow as tf

import cache
from classify import fuse, saved
from classify import train as heads_train
from classify.config import ExportConfig, HeadConfig, PredictConfig
from classify.prediction import predict
from extract import backbones
from extract.config import ExtractConfig
from extract.network import backbone
from extract.network.feature_source import LayersError, backbone_layers, source_of
from extract.recorded import identity
from extract.running import build
from finetune.config import FinetuneConfig
from finetune.model import depth
from finetune.tune import run as finetune
from tests import tiny_backbone
from tests.conftest import write_class_folders
from workflow.paths import Paths

SIZE = 32  # every backbone's smallest input: the equality does not depend on the size


def reference_of(name: str):
    """(constructor, module with preprocess_input) of `keras.applications`, named here, not taken from
    the backbone's module: what the cache must equal."""
    import keras

    apps = keras.applications
    return {
        "mobilenet_v2": (apps.MobileNetV2, apps.mobilenet_v2),
        "efficientnet_v2_b0": (apps.EfficientNetV2B0, apps.efficientnet_v2),
        "resnet50": (apps.ResNet50, apps.resnet50),
        "convnext_tiny": (apps.ConvNeXtTiny, apps.convnext),
    }[name]


# Each normalised layer's scale: a random network at 1 is chaotic (a rounding difference doubles block
# after block: EfficientNetV2's TFLite features stray 9% from TensorFlow's by its last block); at
# 0.5 it is not, as trained networks are not.
GAIN = 0.5


def random_weights_of(network, folder, pixels):
    """Seeded random weights of `network`, saved as Keras saves them; BatchNorm statistics set from
    `pixels` (N, size, size, 3 in [0, 255]: the images the test runs), as training would set them,
    dropout off meanwhile, so that inference on them normalises as that pass did. Otherwise the
    residual sums of a random network grow block after block, and TFLite's rounding with them."""
    import keras

    keras.utils.set_random_seed(0)
    model = network.construct(pixels.shape[1], None)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model(network.preprocess(tf.constant(pixels)), training=True)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(layer.gamma * GAIN)
    path = folder / f"{network.name}.weights.h5"
    model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbone_images")
    write_class_folders(root / "train", ["a", "b"], 2)
    write_class_folders(root / "validation", ["a", "b"], 1, seed=1)
    return root


def pixels_of(files) -> np.ndarray:
    """The tutorial's decode and bilinear resize, in [0, 255]."""
    decoded = [tf.io.decode_image(tf.io.read_file(str(f)), 3, expand_animations=False) for f in files]
    return np.stack([tf.image.resize(image, (SIZE, SIZE)).numpy() for image in decoded])


def expected_features(name, weights, files, layers):
    """{layer: (N, width)}: `keras.applications`' model with its own preprocess_input on the tutorial's
    resize; `last` as its own pooling="avg" gives it, every block as the backbone taps it."""
    import keras

    constructor, module = reference_of(name)
    x = np.asarray(module.preprocess_input(pixels_of(files)))
    shape = (SIZE, SIZE, 3)
    pooled = constructor(input_shape=shape, include_top=False, weights=str(weights), pooling="avg")
    network = backbones.named(name)
    base = constructor(input_shape=shape, include_top=False, weights=str(weights))
    taps = [keras.layers.GlobalAveragePooling2D()(network.tapped(base, layer)) for layer in layers]
    outputs = keras.Model(base.input, taps).predict(x, verbose=0)
    return {network.last: pooled.predict(x, verbose=0)} | dict(zip(layers[:-1], outputs[:-1], strict=True))


BACKBONES = [
    "mobilenet_v2",
    "efficientnet_v2_b0",
    pytest.param("resnet50", marks=pytest.mark.slow),  # 25 M weights: its TFLite conversion alone takes seconds
    pytest.param("convnext_tiny", marks=pytest.mark.slow),  # 28 M weights, likewise
]


@pytest.mark.slow  # every block of a backbone converted to TFLite, and the Keras engine beside it
@pytest.mark.parametrize("name", BACKBONES)
def test_a_backbones_cache_equals_keras_applications_with_its_own_preprocessing(name, few_images, tmp_path, engine_dir):
    """Within 1e-4 of each feature vector's norm: random weights amplify rounding in deep blocks, where
    a few values of a vector in the hundreds differ by more than 1e-4 of themselves (TFLite's
    XNNPACK sums in another order than TensorFlow)."""
    network = backbones.named(name)
    files = sorted(few_images.rglob("*.jpg"))
    weights = random_weights_of(network, tmp_path, pixels_of(files))
    layers = network.sets["all"]
    assert layers[-1] == network.last
    expected = expected_features(name, weights, files, layers)
    row = {str(path.relative_to(few_images)): k for k, path in enumerate(files)}
    for engine in ("tflite", "keras"):
        out = tmp_path / engine
        config = ExtractConfig(
            data=str(few_images), backbone=name, weights=str(weights), out=str(out), image_size=SIZE,
            layers="all", engine=engine, batch=len(files), engine_dir=str(engine_dir),
        )  # fmt: skip
        build.run(config, progress=False)
        meta = cache.info(Paths(out).cache)
        assert meta["feature_source"]["backbone"] == name and meta["model"] == network.model
        for split in ("train", "validation"):
            rows = [row[i] for i in cache.ids(Paths(out).cache, split)]
            for layer in layers:
                found = cache.read_split(Paths(out).cache, split, blocks=[layer]).features
                assert found.shape == (len(rows), network.widths[layer])
                error = np.linalg.norm(found - expected[layer][rows], axis=1)
                assert (error <= 1e-4 * np.linalg.norm(expected[layer][rows], axis=1)).all(), (engine, layer, error)


@pytest.mark.slow  # builds every network, ResNet50's and ConvNeXt's 25 M weights included
def test_every_backbone_names_layers_its_network_has_with_their_widths():
    """The registry's widths are the networks' own (built without weights, at the smallest size)."""
    for name, network in backbones.REGISTRY.items():
        if name == tiny_backbone.TinyNet.name:
            continue
        base = network.construct(network.min_size, None)
        for layer, width in network.widths.items():
            assert network.tapped(base, layer).shape[-1] == width, (name, layer)
        assert network.image_size >= network.min_size and network.imagenet_file(224).endswith(".h5")


# MobileNetV2's default depth and search candidates, by layer name, are the tutorial's
# FINE_TUNE_AT=100 and the search's 100 and 130 (extract/backbones/mobilenet_v2.py). The fine-tuning
# tests run on the tests' tiny backbone, so this is where every real backbone's names are resolved.
MOBILENET_V2_DEPTHS = [100, 100, 130]


@pytest.mark.parametrize("name", BACKBONES)
def test_a_backbones_fine_tuning_depths_start_at_the_layers_they_name(name):
    """A name freezes every layer below it, an index that many layers, a fraction that share of them."""
    network = backbones.named(name)
    base = source_of("last", name).build(None, network.min_size)
    layers = backbone_layers(base)
    named = [network.fine_tune_at, *network.fine_tune_depths]
    for layer in named:
        assert layers[depth(base, layer)].name == layer
    if name == "mobilenet_v2":
        assert [depth(base, layer) for layer in named] == MOBILENET_V2_DEPTHS
    assert depth(base, "100") == 100
    assert abs(depth(base, "0.65") - 0.65 * len(layers)) <= 0.5  # the top 35% train


def test_an_unknown_backbone_or_layer_is_refused_naming_the_nearest():
    with pytest.raises(backbones.BackboneError, match="no backbone 'resnet5'; known: resnet50"):
        ExtractConfig(backbone="resnet5")
    with pytest.raises(LayersError, match="resnet50 has no layer or set 'conv5_block3_ou'; nearest: conv5_block3_out"):
        source_of("conv5_block3_ou", "resnet50")
    assert ExtractConfig(backbone="resnet50").image_size == 224 and ExtractConfig().image_size == 160


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_weights, engine_dir):
    """A backbone registered from the tests (`tiny_weights` registers it), its seeded weights, and a cache of it."""
    root = tmp_path_factory.mktemp("tiny")
    write_class_folders(root / "data" / "train", ["a", "b", "c"], 8)
    write_class_folders(root / "data" / "validation", ["a", "b", "c"], 3, seed=1)
    weights = tiny_weights
    out = root / "artifacts"
    config = ExtractConfig(
        data=str(root / "data"), backbone="tiny_test", weights=str(weights), out=str(out), engine="tflite",
        engine_dir=str(engine_dir), batch=4,
    )  # fmt: skip
    build.run(config, progress=False)
    return root, out, weights, config


def test_a_cache_of_one_backbone_is_never_read_as_anothers(tiny, random_weights):
    root, out, weights, config = tiny
    meta = cache.info(Paths(out).cache)
    assert meta["feature_source"]["backbone"] == "tiny_test" and meta["image_size"] == 32
    assert meta["blocks"] == {"tiny_block_1": 8, "tiny_block_2": 16, "tiny_out": 24}  # the tiny's `blocks`
    # a stage told another backbone refuses the cache in one line, before any work
    with pytest.raises(LayersError, match="BACKBONE=mobilenet_v2, but the cache was built on tiny_test") as refused:
        heads_train.run(HeadConfig(out=str(out), backbone="mobilenet_v2"))
    assert "\n" not in str(refused.value)
    # weights of another backbone do not load into the cache's: one line naming both
    with pytest.raises(backbone.WeightsError, match=f"cannot load weights '{random_weights}' into TinyNet") as refused:
        backbone.matching_backbone(meta, str(random_weights), "the cache")
    assert "\n" not in str(refused.value)
    # the same settings on another backbone are another cache: its quick key and fingerprint differ
    other = ExtractConfig(**(vars(config) | {"backbone": "mobilenet_v2", "weights": str(random_weights)}))
    assert other.quick_key("data") != config.quick_key("data")
    source = {"feature_source": other.source.to_record(), "model": other.source.network.model}
    assert identity.fingerprint_of(meta | source) != meta["fingerprint"] == identity.fingerprint_of(meta)
    # a record naming a backbone this version does not know is refused, naming it
    unknown = meta | {"feature_source": meta["feature_source"] | {"backbone": "vgg99"}}
    with pytest.raises(LayersError, match="'vgg99', which this version does not know"):
        backbone.matching_backbone(unknown, None, "the cache")


@pytest.mark.slow  # heads, fine-tuning, predict and export on a backbone of the tests' own
def test_a_backbone_registered_from_a_test_module_goes_through_every_stage(tiny, random_weights):
    root, out, weights, config = tiny
    heads_train.run(HeadConfig(out=str(out), heads=["logreg", "dense"], epochs=3, seeds=1, dense_recipe="tutorial"))
    tuned = finetune(
        FinetuneConfig(out=str(out), epochs=1, batch=8, seeds=1, search_steps=3, search_rates=[1e-4]), progress=False
    )["finetune"]
    assert tuned["fine_tune_at"] in tiny_backbone.TinyNet.fine_tune_depths  # the backbone's own candidates
    metrics = json.loads(Paths(out).heads_metrics.read_text())
    assert metrics["logreg"]["trained_on"]["backbone"] == "tiny_test"
    files = sorted((root / "data" / "validation").rglob("*.jpg"))
    x = np.stack([tf.image.resize(tf.io.decode_image(tf.io.read_file(str(f)), 3), (32, 32)) / 255 for f in files])
    for head in ("logreg", "dense", "finetune"):
        predict(PredictConfig(images=[str(f) for f in files], out=str(out), head=head, backbone="tiny_test"), False)
        rows = list(cache_rows(Paths(out).predictions))
        predicted = np.array([[float(row[f"p_{c}"]) for c in "abc"] for row in rows])
        keras_path, tflite_path, record_path = fuse.export(ExportConfig(out=str(out), head=head))
        import keras

        fused = keras.saving.load_model(keras_path)
        assert fused.name == f"tiny_test_{head}"
        np.testing.assert_allclose(fused.predict(x, verbose=0), predicted, atol=1e-4)
        assert json.loads(record_path.read_text())["feature_source"]["backbone"] == "tiny_test"
        assert saved.load_record(out, head)["feature_source"]["backbone"] == "tiny_test"
    # the same data and OUT on another backbone: rebuilt, never taken as up to date
    other = ExtractConfig(**(vars(config) | {"backbone": "mobilenet_v2", "weights": str(random_weights)}))
    assert build.run(other, progress=False).status != "up to date"
    assert cache.info(Paths(out).cache)["feature_source"]["backbone"] == "mobilenet_v2"


def cache_rows(path):
    with open(path, newline="") as handle:
        yield from csv.DictReader(handle)
