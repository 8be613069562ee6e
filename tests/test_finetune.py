import csv
import io
import json
import re
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

import cache
import finetune.search
from classify import crossfit, saved, scored
from classify import train as heads_train
from classify.config import HeadConfig
from classify.heads import network
from extract.network import backbone
from extract.network.backbone import WeightsError
from extract.network.feature_source import backbone_layers, source_of
from extract.reading import images
from extract.reading.sources import Split, folder_source
from finetune.__main__ import main as finetune_main
from finetune.baseline import main as baseline_main
from finetune.config import BaselineConfig, FinetuneConfig
from finetune.data import TrainingStream, kept_elements
from finetune.model import build_finetune_model
from finetune.runs import fit_stream
from finetune.search import search
from finetune.start import best_head, start_head
from finetune.tune import _plot, run
from finetune.tutorial import run as run_baseline
from tests.conftest import (
    TINY,
    colour_image,
    other_tiny_weights,
    private_copy,
    seen_by,
    tiny_cache,
    write_class_folders,
)
from tests.mixing import assert_batched, assert_mixed
from tests.tiny_backbone import TinyNet
from workflow.paths import Paths

pytestmark = pytest.mark.slow  # end-to-end fine-tuning runs, resumed and searched: minutes in all


def cache_and_heads(root, tiny_weights, engine_dir, validation_classes=("a", "b")):
    """A cache of generated images on the tests' tiny backbone and its heads (one run each), in
    `root`/artifacts: what these tests check holds for any backbone (the MobileNetV2 layers are
    checked above, its fine-tuning end to end in test_e2e_finetune.py). `validation_classes`: the
    folders the validation images of classes a and b are written under."""
    data = root / "data"
    write_class_folders(data / "train", ["a", "b"], 16)
    write_class_folders(data / "validation", list(validation_classes), 6, seed=1)
    out = root / "artifacts"
    tiny_cache(data, out, tiny_weights, engine_dir)
    heads_train.run(HeadConfig(dense_recipe="tutorial", out=str(out), epochs=2, jobs=1, folds=2, seeds=1))
    return out


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory, tiny_weights, engine_dir):
    return cache_and_heads(tmp_path_factory.mktemp("trained"), tiny_weights, engine_dir)


@pytest.fixture
def trained(trained_once, tmp_path):
    """The module's cache and heads, in an artifacts folder of this test's own."""
    return private_copy(trained_once, tmp_path)


LISTED = {"a": 1200, "b": 900, "c": 600}  # more images than a bounded shuffle buffer of 1,024 holds


@pytest.fixture(scope="module")
def listed_by_class(tmp_path_factory) -> Split:
    """A folder's train split of 2,700 images listed class by class, as the cache lists them."""
    root = tmp_path_factory.mktemp("listed")
    buffer = io.BytesIO()
    colour_image(0, 0, (8, 8)).save(buffer, "JPEG")  # the labels come from the folders, not the pixels
    for name, count in LISTED.items():
        (root / "train" / name).mkdir(parents=True)
        for i in range(count):
            (root / "train" / name / f"{i:04d}.jpg").write_bytes(buffer.getvalue())
    return folder_source(root).splits[0]


def fit_batches_of_epochs(stream, epochs: int = 2) -> list[list[np.ndarray]]:
    batches = []
    for epoch in range(epochs):
        stream.epoch = epoch  # as Keras's epochs set it (`finetune.runs.StreamEpochs`)
        batches.append([labels.astype(int) for _, labels in stream.dataset.as_numpy_iterator()])
    return batches


@pytest.mark.parametrize("remainder", [3, 30])  # a last batch left out, and one kept
@pytest.mark.parametrize("config", [FinetuneConfig(), BaselineConfig()], ids=["finetune", "baseline"])
def test_every_epoch_of_the_training_stream_mixes_the_whole_split(listed_by_class, config, remainder):
    """The images in a new order every epoch, so the few of a last batch of under half a batch,
    left out, change."""
    split = listed_by_class
    keep = np.ones(len(split), dtype=bool)
    keep[::10] = False  # the dev rows, held out
    keep[np.flatnonzero(keep)[: (keep.sum() - remainder) % config.batch]] = False
    fit_count = int(keep.sum())
    assert fit_count % config.batch == remainder
    meta = {"image_size": TINY, "class_names": list(LISTED)}
    epochs = fit_batches_of_epochs(fit_stream(config, (split, keep), meta, seed=0))
    for batches in epochs:
        assert_batched(batches, fit_count, config.batch)
        labels = np.concatenate(batches)
        left_out = np.bincount(split.labels[keep], minlength=3) - np.bincount(labels, minlength=3)
        assert left_out.min() >= 0  # every other fit image once
        assert_mixed(labels, len(LISTED))
    assert not np.array_equal(*map(np.concatenate, epochs))  # a new order every epoch


def test_fewer_images_than_a_batch_train_as_one_batch(listed_by_class):
    keep = np.zeros(len(listed_by_class), dtype=bool)
    keep[[np.flatnonzero(listed_by_class.labels == label)[0] for label in range(3)]] = True  # one of each class
    meta = {"image_size": TINY, "class_names": list(LISTED)}
    (batches,) = fit_batches_of_epochs(fit_stream(FinetuneConfig(), (listed_by_class, keep), meta, seed=0), 1)
    assert [sorted(labels) for labels in batches] == [[0, 1, 2]]


def test_a_tfds_split_is_shuffled_whole_before_decoding(listed_by_class):
    """A TFDS split is read in order only: its kept encoded bytes are shuffled, all of them."""
    labels = listed_by_class.labels
    encoded = tf.data.Dataset.from_tensor_slices([f"image {i}".encode() for i in range(len(labels))])
    split = Split("train", [str(i) for i in range(len(labels))], labels, dataset=encoded)
    keep = np.ones(len(split), dtype=bool)
    keep[::10] = False
    stream = TrainingStream(split, keep, TINY, 32, False, seed=0, augment=False, backbone="mobilenet_v2")
    epochs = []
    for epoch in range(2):
        planned = stream.plan(epoch).positions
        read = [(int(position), encoded) for position, encoded in stream.read(planned).as_numpy_iterator()]
        positions = np.array([position for position, _ in read])
        np.testing.assert_equal(positions, planned)
        assert [encoded for _, encoded in read] == [f"image {p}".encode() for p in positions]
        epochs.append(positions)
    for positions in epochs:
        np.testing.assert_equal(np.sort(positions), np.flatnonzero(keep))
        assert_mixed(labels[positions], len(LISTED))
    assert not np.array_equal(*epochs)
    assert [int(p) for p, _ in kept_elements(split, keep).as_numpy_iterator()] == list(np.flatnonzero(keep))


def test_one_step_trains_only_the_top_and_never_batchnorm_statistics(random_weights):
    keras.utils.set_random_seed(0)
    head = network.build_dense(1280, 2)
    head_before = [w.copy() for w in head.get_weights()]
    base = backbone.build_backbone(str(random_weights), TINY)
    model = build_finetune_model(base, head, fine_tune_at=100)
    np.testing.assert_equal(model.layers[-1].get_weights(), head_before)  # starts as the saved head
    before = {id(v): np.array(v) for v in base.weights}
    network.compile_dense(model, 2, 1e-3)
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


def test_fine_tune_at_counts_the_same_backbone_layers_whatever_blocks_are_pooled():
    """Keras orders a multi-output model's layers by depth: an early block's pooling would shift
    every index after it, and FINE_TUNE_AT would unfreeze other layers."""
    from extract.network.feature_source import backbone_layers, source_of

    last, every = (backbone_layers(source_of(name).build(None, TINY)) for name in ("last", "all"))
    assert len(last) == 155 and len(every) == 154 + 24 + 1  # the backbone's, then pooling (and concatenation)
    assert [layer.name for layer in last[1:154]] == [layer.name for layer in every[1:154]]  # after the input
    head = network.build_dense(7392, 2)
    base = source_of("all").build(None, TINY)
    build_finetune_model(base, head, fine_tune_at=100)
    layers = backbone_layers(base)
    assert not any(layer.trainable for layer in layers[:100])
    above = [
        layer for layer in layers[100:154] if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert above and all(layer.trainable for layer in above)


def test_a_fine_tuning_depth_that_is_no_layer_or_index_is_refused_in_one_line(tiny_weights):
    """FINE_TUNE_AT as typed: a misspelt layer name is answered with the nearest names; a number
    below 0, past the layers, or of 1 or more yet no whole index says what a depth may be."""
    base = source_of("last", TinyNet.name).build(None, TINY)
    count = len(backbone_layers(base))
    head = network.build_dense(TinyNet.widths["tiny_out"], 2)
    with pytest.raises(ValueError, match=r"'tiny_conv_9': tiny_test has no such layer; nearest: tiny_conv_\d"):
        build_finetune_model(base, head, "tiny_conv_9")
    with pytest.raises(ValueError, match=r"'top': tiny_test has no such layer; give a layer name, a fraction or"):
        build_finetune_model(base, head, "top")  # close to no layer's name: what a depth may be instead
    for wrong in ("-1", str(count + 1), "2.5"):
        with pytest.raises(ValueError, match=rf"{wrong}' is not a fraction below 1 or an index up to {count}$"):
            build_finetune_model(base, head, wrong)
    build_finetune_model(base, head, str(count))  # the last index itself: every backbone layer frozen
    assert not any(layer.trainable for layer in backbone_layers(base))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "epochs and batch must be positive"),
        (["--batch", "0"], "epochs and batch must be positive"),
        (["--search-depths", ""], "search depths, where set, must name at least one depth"),
        (["--search-rates", "1e-4,0"], "every search rate must be positive"),
        (["--search-steps", "2"], "search steps at least 3"),  # fewer than the points each curve is measured at
    ],
)
def test_bad_fine_tuning_settings_exit_2_with_the_reason_before_any_work(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        finetune_main(["--out", str(tmp_path), *argv])
    assert exited.value.code == 2 and message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_without_a_saved_head_fine_tuning_says_to_train_the_heads_first(tmp_path):
    with pytest.raises(saved.HeadMismatchError, match=rf"^no saved head in {tmp_path}: run `make heads` first$"):
        best_head(Paths(tmp_path))


def test_finetune_writes_model_metrics_and_curve(trained):
    metrics = run(FinetuneConfig(out=str(trained), epochs=2, batch=8, seeds=2, recipe="tutorial"), progress=False)
    entry = metrics["finetune"]
    assert entry["epochs_run"] == 2 and entry["train_seconds"] > 0
    assert entry["protocol"] == {
        "fit": "train less dev",
        "score": "validation",
        "choose": "dev (0.1 of each class's train images, by hash of id)",
        "groups": 0,
    }
    # The saved run is the one with the lowest loss on the dev rows, at its best epoch there...
    runs = entry["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert entry["saved_seed"] == min(runs, key=lambda r: r["choice_loss"])["seed"]
    history = Paths(trained).run("finetune", entry["saved_seed"]).history
    with open(history, newline="") as handle:
        dev_loss = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    start = json.loads(Paths(trained).run("finetune", entry["saved_seed"]).start.read_text())["val_loss"]
    assert entry["best_epoch"] == int(np.argmin([start, *dev_loss]))  # epoch 0: the start
    assert entry["curve"]["choice_loss"] == pytest.approx([start, *dev_loss])
    assert min(r["choice_loss"] for r in runs) == pytest.approx(min(start, *dev_loss))
    # ...and the metrics are its scores on the validation images, computed here again from the files.
    model = keras.saving.load_model(trained / "finetune" / "model.keras", compile=False)
    validation = cache.read_split(Paths(trained).cache, "validation")
    x = np.stack(
        [
            images.preprocess(tf.io.read_file(str(trained.parent / "data" / i)), TINY, TinyNet.name).numpy()
            for i in validation.ids
        ]
    )
    probabilities = network.probabilities_of_outputs(model.predict(x, verbose=0))
    assert entry["validation"]["n"] == len(validation.ids) == 12
    assert entry["validation"]["accuracy"] == np.mean(probabilities.argmax(1) == validation.labels)
    every_run = scored.load(Paths(trained).scored("finetune"))
    assert every_run.probabilities.shape == (2, 12, 2) and every_run.ids == validation.ids
    np.testing.assert_allclose(
        every_run.probabilities[runs.index(next(r for r in runs if r["seed"] == entry["saved_seed"]))],
        probabilities,
        atol=1e-5,
    )
    head_rate = saved.load_record(trained, "dense")["config"]["learning_rate"]
    assert entry["learning_rate"] == pytest.approx(head_rate / 10)
    assert json.loads((trained / "finetune" / "metrics.json").read_text()) == metrics
    assert saved.load_record(trained, "finetune")["fingerprint"] == cache.info(Paths(trained).cache)["fingerprint"]
    for name in ("model.keras", "model.json", "learning_curve.png"):
        assert (trained / "finetune" / name).stat().st_size > 0
    assert not Paths(trained).run("finetune", 0).backup.exists()


@pytest.mark.parametrize("name", ["logreg", "dense"])
def test_the_warm_start_gives_the_cached_heads_probabilities(trained, name):
    meta = cache.info(Paths(trained).cache)
    choice = seen_by(trained, name, "train")  # dev rows among them: any rows will do
    model, _ = saved.load(trained, name)
    expected = model.predict_proba(choice.features)
    head = start_head(trained, name, meta["fingerprint"])
    np.testing.assert_allclose(network.dense_probabilities(head, choice.features), expected, atol=1e-4)


def test_both_starts_keep_float32_probabilities_under_mixed_precision(trained):
    """On a GPU fine-tuning sets mixed_float16 first: a saved Dense head loads in float32, and the
    folded logistic regression must too, or its softmax (and epoch 0's loss) runs in float16."""
    fingerprint = cache.info(Paths(trained).cache)["fingerprint"]
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        starts = {name: start_head(trained, name, fingerprint) for name in ("logreg", "dense")}
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {name: head.layers[-1].compute_dtype for name, head in starts.items()} == {
        "logreg": "float32",
        "dense": "float32",
    }


def test_on_a_gpu_fine_tuning_computes_in_float16_and_still_scores_float32_probabilities(trained, monkeypatch):
    """A GPU is told apart before any layer is built: the backbone then computes in float16
    (mixed_float16), while the head's last layer, and so the probabilities, stay float32."""
    from extract.network import engines

    monkeypatch.setattr(engines, "has_gpu", lambda: True)
    config = FinetuneConfig(out=str(trained), epochs=1, batch=8, seeds=1, recipe="tutorial")
    try:
        run(config, progress=False)
        model = keras.saving.load_model(trained / "finetune" / "model.keras", compile=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # the policy is global: no later test inherits it
    backbone_convolution = next(layer for layer in model.layers[1].layers if layer.name == "tiny_conv_3")
    assert backbone_convolution.compute_dtype == "float16"
    assert model.layers[-1].layers[-1].compute_dtype == "float32"  # the head's output: float32 probabilities


def test_the_start_is_the_head_with_the_lowest_choice_loss(trained):
    """On choice rows it did not tune on: logistic regression's own loss (its C is chosen on the fit
    rows), the Dense head's cross-fitted (it stops early on the choice rows); not the Dense head's own."""
    entries = json.loads(Paths(trained).heads_metrics.read_text())
    dense = crossfit.untuned_choice_loss(trained, "dense", saved.load_record(trained, "dense"), entries["dense"])
    entries["dense"]["runs"][0]["choice_loss"] = 0.0  # tuned on: no longer decides
    for logreg, start in ((dense - 0.05, "logreg"), (dense + 0.05, "dense")):
        entries["logreg"]["runs"][0]["choice_loss"] = logreg
        cache.write_text(Paths(trained).heads_metrics, json.dumps(entries))
        assert best_head(Paths(trained)) == start


def test_a_start_from_logistic_regression_is_not_drawn_after_the_dense_heads_epochs(trained, monkeypatch):
    entries = json.loads(Paths(trained).heads_metrics.read_text())
    entries["logreg"]["runs"][0]["choice_loss"], entries["dense"]["runs"][0]["choice_loss"] = 0.0, 9.0
    cache.write_text(Paths(trained).heads_metrics, json.dumps(entries))
    drawn = []
    monkeypatch.setattr(
        "classify.plots.learning_curves", lambda history, path, title, starts, **_: drawn.append(starts)
    )
    search = dict(search_steps=3, search_rates=[1e-5], search_depths=[TinyNet.fine_tune_at])
    entry = run(FinetuneConfig(out=str(trained), epochs=1, batch=8, seeds=1, **search), progress=False)["finetune"]
    assert entry["start"] == "logreg" and drawn == [None]  # the Dense head's frozen epochs are not its start's


def test_a_frozen_phase_whose_curves_do_not_line_up_is_left_out_of_the_plot(tmp_path, monkeypatch):
    """The start head's frozen epochs are drawn before fine-tuning's where both logged the same
    curves; a frozen history without some of them (no accuracy logged) would pair unequal lengths,
    so fine-tuning is drawn alone, unmarked."""
    drawn = []
    monkeypatch.setattr(
        "classify.plots.learning_curves", lambda history, path, title, starts, **_: drawn.append((history, starts))
    )
    tuned = {"accuracy": [0.6, 0.7], "loss": [0.5, 0.4], "val_accuracy": [0.6, 0.6], "val_loss": [0.6, 0.5]}
    frozen = tmp_path / "frozen.json"
    frozen.write_text(json.dumps({key: [0.9, 0.8, 0.7] for key in tuned}))
    _plot(tuned, frozen, tmp_path / "curve.png", "dev")
    frozen.write_text(json.dumps({"loss": [0.9, 0.8, 0.7], "val_loss": [0.9, 0.8, 0.7]}))
    _plot(tuned, frozen, tmp_path / "curve.png", "dev")
    (joined, marked), (alone, unmarked) = drawn
    assert marked == {"fine-tuning starts": 3} and joined["loss"] == [0.9, 0.8, 0.7, 0.5, 0.4]
    assert unmarked is None and alone == tuned


def test_a_finished_run_is_reused_and_one_killed_before_its_result_only_scores_again(trained, monkeypatch, capsys):
    """A run whose result is written is loaded as it is; a run whose every epoch ended but whose
    result was not written (killed in between) is scored from its best epoch. Neither trains again,
    and the command prints the same scores."""
    config = FinetuneConfig(out=str(trained), epochs=1, batch=8, seeds=1, recipe="tutorial")
    first = run(config, progress=False)["finetune"]
    files = Paths(trained).run("finetune", 0)
    history, result = files.history.read_text(), files.result.read_bytes()

    def trained_again(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(keras.Model, "fit", trained_again)
    args = ["--out", str(trained), "--recipe", "tutorial", "--epochs", "1", "--batch", "8", "--seeds", "1"]
    for killed_before_its_result in (False, True):
        if killed_before_its_result:
            files.result.unlink()
        capsys.readouterr()
        assert finetune_main([*args, "--quiet"]) == 0
        printed = capsys.readouterr().out
        again = json.loads((trained / "finetune" / "metrics.json").read_text())["finetune"]
        assert again["validation"] == first["validation"] and again["curve"] == first["curve"]
        assert files.history.read_text() == history
        # reused as written (its timing too), or written again by predicting (timed anew)
        assert (files.result.read_bytes() == result) != killed_before_its_result
        assert f"| finetune | validation | {first['validation']['accuracy']:.4f} |" in printed
        assert printed.endswith(f"saved to {trained}/finetune/\n")


def test_a_run_that_only_diverges_ends_where_it_started(trained):
    """Epoch 0 wins when every step makes the choice loss worse: the saved model is the start."""
    config = FinetuneConfig(out=str(trained), epochs=2, batch=8, seeds=1, recipe="tutorial", learning_rate=1e4)
    entry = run(config, progress=False)["finetune"]
    assert entry["best_epoch"] == 0 and entry["start_won"]
    assert min(entry["curve"]["choice_loss"][1:]) > entry["curve"]["choice_loss"][0]
    tuned = keras.saving.load_model(trained / "finetune" / "model.keras", compile=False)
    dense, _ = saved.load(trained, "dense")
    for tuned_weights, start_weights in zip(tuned.layers[-1].get_weights(), dense.model.get_weights(), strict=True):
        np.testing.assert_array_equal(tuned_weights, start_weights)


def swapped_validation_labels(tmp_path, tiny_weights, engine_dir):
    """Two artifact folders whose caches differ only in the scored split's labels: the second has
    class a's validation images under b/, and b's under a/."""
    return [
        cache_and_heads(tmp_path / name, tiny_weights, engine_dir, classes)
        for name, classes in (("same", ("a", "b")), ("swapped", ("b", "a")))
    ]


def test_the_search_never_reads_the_scored_split(tmp_path, tiny_weights, engine_dir):
    """Two caches and two whole fine-tuning runs, each building three models (two candidates of
    the fewest steps allowed, then the run), since what is checked is the run's choice whatever
    the scored split's labels: on the tiny backbone, seconds (a minute on MobileNetV2)."""
    searches = []
    for out in swapped_validation_labels(tmp_path, tiny_weights, engine_dir):
        # two candidates of the fewest steps allowed
        search = dict(search_steps=3, search_rates=[1e-5, 1e-2], search_depths=[TinyNet.fine_tune_at])
        config = FinetuneConfig(out=str(out), epochs=1, batch=8, seeds=1, **search)
        entry = run(config, progress=False)["finetune"]
        found = entry["search"]
        assert len(found["candidates"]) == 2 and entry["schedule"] == "warm-up then cosine decay"
        finals = [c["choice_loss"][-1] for c in found["candidates"]]
        chosen = found["candidates"][int(np.argmin(finals))]
        assert found["chosen"] == {"learning_rate": chosen["learning_rate"], "fine_tune_at": chosen["fine_tune_at"]}
        assert (entry["learning_rate"], entry["fine_tune_at"]) == tuple(found["chosen"].values())
        assert entry["train_seconds"] > found["seconds"] > 0  # the search is part of the method's cost
        searches.append(found)
    assert searches[0]["chosen"] == searches[1]["chosen"]
    for first, second in zip(searches[0]["candidates"], searches[1]["candidates"], strict=True):
        np.testing.assert_allclose(first["choice_loss"], second["choice_loss"], rtol=1e-4)


def test_a_kept_search_is_made_again_for_another_batch_augmentation_or_stream(tmp_path, monkeypatch):
    data = write_class_folders(tmp_path / "data" / "train", ["a", "b"], 4)
    (split,) = folder_source(data.parent).splits
    everything = np.ones(len(split), dtype=bool)
    roles = {"fit": (split, everything), "choose": (split, everything)}
    meta = {"class_names": ["a", "b"], "image_size": TINY}
    built = []

    def make_model(rate: float, depth: int, steps: int) -> keras.Model:
        built.append((rate, depth))
        model = keras.Sequential(
            [keras.Input((TINY, TINY, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)]
        )
        network.compile_dense(model, 2, rate)
        return model

    def searched(**settings) -> int:
        before = len(built)
        config = FinetuneConfig(out=str(tmp_path / "out"), search_steps=3, search_rates=[1e-3], search_depths=[1])
        search(replace(config, **settings), {"start": "dense"}, make_model, roles, meta, progress=False)
        return len(built) - before

    assert searched(batch=4) == 1
    assert searched(batch=4) == 0  # the same settings: the kept search
    assert searched(batch=2) == 1  # another batch trains other steps
    assert searched(batch=2, augment=False) == 1  # other training images
    monkeypatch.setattr(finetune.search, "STREAM", "another training stream")
    assert searched(batch=2, augment=False) == 1  # a search kept from another version's stream


@pytest.fixture
def other_weights(tmp_path) -> str:
    return str(other_tiny_weights(tmp_path))


def test_finetune_and_baseline_refuse_other_weights(trained, other_weights, capsys):
    with pytest.raises(WeightsError, match="not those the cache was built with"):
        run(FinetuneConfig(out=str(trained), weights=other_weights, epochs=1, seeds=1), progress=False)
    with pytest.raises(WeightsError, match="not those the cache was built with"):
        run_baseline(BaselineConfig(out=str(trained), weights=other_weights, epochs=1, seeds=1), progress=False)
    assert baseline_main(["--out", str(trained), "--weights", other_weights, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: weights") and err.count("\n") == 1
    assert not (trained / "baseline").exists() and not (trained / "finetune" / "metrics.json").exists()


def test_finetune_refuses_a_head_trained_under_another_protocol_in_one_line(trained, capsys):
    """Dev sets are nested lowest-hash sets: a head fitted with dev at 0.1 was trained on half of
    the rows that dev at 0.2 chooses on; a head that left ids out was fitted on other rows."""
    recorded = saved.load_record(trained, "dense")["protocol"]
    assert recorded["choose"] == "dev" and recorded["dev_fraction"] == 0.1
    with pytest.raises(saved.ProtocolMismatchError, match=r"dev fraction \(DEV_FRACTION\) 0.1, not 0.2"):
        run(FinetuneConfig(out=str(trained), epochs=1, seeds=1, dev_fraction=0.2), progress=False)
    assert finetune_main(["--out", str(trained), "--dev-fraction", "0.2", "--quiet"]) == 1
    err = capsys.readouterr().err
    # the searched recipe starts from the head with the lowest choice loss, either of the two
    assert re.match(r"error: the saved (logreg|dense) head was trained with dev fraction", err) and err.count("\n") == 1
    with pytest.raises(saved.ProtocolMismatchError, match=r"class weights \(CLASS_WEIGHT\) none, not balanced"):
        run(FinetuneConfig(out=str(trained), epochs=1, seeds=1, class_weight="balanced"), progress=False)

    listed = trained / "exclude.txt"
    listed.write_text("train/a/a.3.jpg\n")
    heads_train.run(
        HeadConfig(dense_recipe="tutorial", out=str(trained), epochs=2, jobs=1, folds=2, seeds=1, exclude=str(listed))
    )
    assert saved.load_record(trained, "dense")["protocol"]["excluded_ids"] != recorded["excluded_ids"]
    with pytest.raises(saved.ProtocolMismatchError, match=r"excluded train ids \(EXCLUDE\)"):
        run(FinetuneConfig(out=str(trained), epochs=1, seeds=1), progress=False)
    assert not (trained / "finetune" / "metrics.json").exists()


def test_finetune_refuses_a_dataset_changed_since_the_cache(tmp_path, tiny_weights, engine_dir):
    trained = cache_and_heads(tmp_path, tiny_weights, engine_dir)  # its own data: the test edits it
    (trained.parent / "data" / "train" / "a" / "a.0.jpg").write_bytes(b"edited since")
    with pytest.raises(cache.CacheError, match="changed since the cache was built"):
        run(FinetuneConfig(out=str(trained), epochs=1, seeds=1), progress=False)
