import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import numpy as np
import pytest

import cache
from extract.__main__ import main as extract_main
from extract.config import ExtractConfig
from extract.network import backbone, engines
from extract.network.feature_source import DEFAULT_LAYERS, source_of
from extract.reading import pipeline
from extract.reading.sources import in_row_order
from extract.running import build
from tests.conftest import (
    ROOT,
    TINY,
    colour_image,
    generated_cache,
    small_shards,
    write_bad_files,
    write_class_folders,
)
from workflow.paths import Paths


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """3 classes, train/validation, with every bad kind of file in train/class_a."""
    root = tmp_path_factory.mktemp("data")
    write_class_folders(root / "train", ["class_a", "class_b", "class_c"], 6)
    write_class_folders(root / "validation", ["class_a", "class_b", "class_c"], 2, seed=1)
    expected = write_bad_files(root / "train" / "class_a" / "odd")
    return root, expected


def config_for(dataset, tmp_path, random_weights, engine_dir, **overrides):
    root, _ = dataset
    return small_shards(root, tmp_path, random_weights, engine_dir, **overrides)


@pytest.mark.slow
def test_cache_holds_every_good_image_and_reports_the_rest(dataset, tmp_path, random_weights, engine_dir):
    root, expected = dataset
    summary = build.run(config_for(dataset, tmp_path, random_weights, engine_dir), progress=False)
    assert summary.status == "built"
    good = sorted(f"train/class_a/odd/{n}" for n, ok in expected.items() if ok)
    bad = sorted(f"train/class_a/odd/{n}" for n, ok in expected.items() if not ok)
    train = cache.read_split(summary.path, "train")
    assert train.features.shape == (18 + len(good), source_of(DEFAULT_LAYERS).width)
    assert train.features.dtype == np.float32 and np.isfinite(train.features).all()
    assert sorted(i for i in train.ids if "/odd/" in i) == good
    assert train.ids == in_row_order(train.ids)  # the source's order kept across shards
    assert list(np.bincount(train.labels)) == [6 + len(good), 6, 6]
    skipped = dict(cache.skipped(summary.path, "train"))
    assert sorted(skipped) == bad and all(skipped.values())
    assert skipped["train/class_a/odd/empty.jpg"] == "empty file"
    meta = cache.info(summary.path)
    assert meta["class_names"] == ["class_a", "class_b", "class_c"]
    assert meta["image_size"] == TINY and meta["engine"] == "tflite" and meta["preprocessing"]
    assert meta["splits"]["train"]["n_inputs"] == 18 + len(expected)
    assert [dict(s.skipped) for s in summary.splits] == [skipped, {}]
    assert not (tmp_path / "features.h5.parts").exists()


@pytest.mark.slow
def test_same_inputs_do_nothing_and_changed_inputs_rebuild(dataset, tmp_path, random_weights, engine_dir):
    config = config_for(dataset, tmp_path, random_weights, engine_dir)
    build.run(config, progress=False)
    stamp = config.paths.cache.stat().st_mtime_ns
    assert build.run(config, progress=False).status == "up to date"
    assert config.paths.cache.stat().st_mtime_ns == stamp
    first = cache.info(config.paths.cache)["fingerprint"]
    bigger = config_for(dataset, tmp_path, random_weights, engine_dir, image_size=40)
    assert build.run(bigger, progress=False).status == "built"
    assert cache.info(config.paths.cache)["fingerprint"] != first
    assert (
        build.run(config_for(dataset, tmp_path, random_weights, engine_dir, force=True), progress=False).status
        == "built"
    )


@pytest.mark.slow
def test_float16_cache(dataset, tmp_path, random_weights, engine_dir):
    config = config_for(dataset, tmp_path, random_weights, engine_dir, dtype="float16", limit=3)
    X, y = cache.load(build.run(config, progress=False).path, "validation")
    # LIMIT keeps every class, all of a class with fewer than 5: here both of each class's 2
    assert X.dtype == np.float16 and len(X) == len(y) == 6 and set(y.tolist()) == {0, 1, 2}


@pytest.mark.slow
def test_engines_agree_on_generated_images(dataset, tmp_path, random_weights, engine_dir):
    keras_cfg = config_for(dataset, tmp_path / "k", random_weights, engine_dir, engine="keras")
    tflite_cfg = config_for(dataset, tmp_path / "t", random_weights, engine_dir)
    by_keras = cache.read_split(build.run(keras_cfg, progress=False).path, "train")
    by_tflite = cache.read_split(build.run(tflite_cfg, progress=False).path, "train")
    assert by_keras.ids == by_tflite.ids
    np.testing.assert_allclose(by_keras.features, by_tflite.features, rtol=1e-4, atol=5e-4)


@pytest.mark.slow
def test_layer_blocks_come_from_one_forward_pass_and_equal_a_model_per_layer(random_weights):
    import keras

    from extract.network.feature_source import source_of

    source = source_of("all")
    one_pass = backbone.build_backbone(str(random_weights), 64, source)
    batch = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    together = one_pass.predict_on_batch(batch)
    assert together.shape == (3, 7392) == (3, source.width)
    alone = keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False, weights=str(random_weights))
    start = 0
    for layer, width in source.blocks.items():
        own = keras.Model(alone.input, keras.layers.GlobalAveragePooling2D()(alone.get_layer(layer).output))
        expected = own.predict_on_batch(batch)
        assert expected.shape == (3, width)
        np.testing.assert_allclose(together[:, start : start + width], expected, rtol=0, atol=1e-5, err_msg=layer)
        start += width
    assert backbone.weights_sha256(one_pass) == backbone.weights_sha256(alone)  # the same weights, checked alike


def test_layers_name_a_set_or_layers_and_a_wrong_name_is_one_line_naming_the_nearest(tmp_path, capsys):
    from extract.network.feature_source import LayersError, source_of

    assert [source_of(name).width for name in ("last", "blocks", "all")] == [1280, 2784, 7392]
    assert source_of("block_2_add, out_relu").blocks == {"block_2_add": 24, "out_relu": 1280}
    with pytest.raises(LayersError, match="no layer or set 'block_2_ad'; nearest: block_2_add"):
        source_of("block_2_ad")
    with pytest.raises(SystemExit) as exited:
        extract_main(["--data", str(tmp_path), "--layers", "out_relux"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "no layer or set 'out_relux'; nearest: out_relu" in err


def test_the_weights_check_refuses_a_record_of_another_backbone(random_weights):
    record = {"model": "ResNet50(include_top=False, pooling=avg)", "weights": str(random_weights), "image_size": TINY}
    with pytest.raises(backbone.WeightsError, match="the cache was built on ResNet50.*this version builds MobileNetV2"):
        backbone.matching_backbone(record, None, "the cache")


@pytest.mark.slow
def test_a_cache_of_several_layers_keeps_each_block_and_its_own_fingerprint(
    dataset, tmp_path, random_weights, engine_dir
):
    last_only = config_for(dataset, tmp_path / "last", random_weights, engine_dir, layers="last")
    last = build.run(last_only, progress=False).path
    config = config_for(dataset, tmp_path / "blocks", random_weights, engine_dir, layers="blocks", views=2)
    several = build.run(config, progress=False).path
    meta = cache.info(several)
    assert meta["blocks"] == config.source.blocks and meta["feature_source"]["layers"] == list(config.source.layers)
    assert meta["fingerprint"] != cache.info(last)["fingerprint"]
    assert replace(config, views=1).quick_key("x") != last_only.quick_key("x")
    train = cache.read_split(several, "train", views=True)
    assert train.features.shape[1:] == (2, 2784)
    # the last block of the multi-layer cache is the last-layer cache's features (another TFLite model)
    np.testing.assert_allclose(
        cache.load(several, "train", blocks=["out_relu"])[0], cache.load(last, "train")[0], rtol=1e-4, atol=5e-4
    )
    # TFLite's one output is the Keras model's concatenation, block for block: nothing to reorder
    by_keras = replace(config, out=str(tmp_path / "keras"), engine="keras")
    np.testing.assert_allclose(
        cache.read_split(build.run(by_keras, progress=False).path, "train", views=True).features,
        train.features,
        rtol=1e-4,
        atol=5e-4,
    )
    assert build.run(config, progress=False).status == "up to date"


def test_auto_engine_is_tflite_on_a_cpu_and_keras_on_a_gpu(monkeypatch):
    monkeypatch.setattr(engines, "has_gpu", lambda: False)
    assert engines.resolve("auto") == "tflite"
    monkeypatch.setattr(engines, "has_gpu", lambda: True)
    assert engines.resolve("auto") == "keras"
    assert engines.resolve("tflite") == "tflite" and engines.resolve("keras") == "keras"
    with pytest.raises(ValueError):
        engines.resolve("onnx")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # Keras warns about each mismatched layer first
def test_weights_of_the_wrong_format_or_shape(tmp_path):
    (tmp_path / "text.h5").write_text("not weights")
    with pytest.raises(backbone.WeightsError, match="cannot load"):
        backbone.build_backbone(str(tmp_path / "text.h5"), TINY)
    import keras

    keras.applications.MobileNetV2(
        input_shape=(TINY, TINY, 3), include_top=False, weights=None, alpha=0.5
    ).save_weights(tmp_path / "half.weights.h5")
    with pytest.raises(backbone.WeightsError, match="cannot load"):
        backbone.build_backbone(str(tmp_path / "half.weights.h5"), TINY)
    with pytest.raises(backbone.WeightsError, match="no weights file"):
        backbone.build_backbone(str(tmp_path / "missing.h5"), TINY)


def test_cli_errors_are_one_line_and_non_zero(tmp_path, capsys, random_weights):
    assert (
        extract_main(["--data", str(tmp_path / "missing"), "--weights", str(random_weights), "--out", str(tmp_path)])
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("error: no such folder") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exited:
        extract_main(["--data", str(tmp_path), "--image-size", "8"])
    assert exited.value.code == 2
    assert "image size must be from 32" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_prints_a_summary(dataset, tmp_path, capsys, random_weights, engine_dir):
    root, _ = dataset
    code = extract_main(
        [
            "--data",
            str(root),
            "--weights",
            str(random_weights),
            "--image-size",
            str(TINY),
            "--out",
            str(tmp_path),
            "--engine-dir",
            str(engine_dir),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "built" in out and "img/s" in out and "skipped train/class_a/odd/empty.jpg: empty file" in out


def test_batches_are_the_same_with_and_without_overlap(dataset):
    from extract.reading.sources import open_source

    split = open_source(str(dataset[0])).splits[0]  # train, with the bad files
    plain, overlapped = (
        list(pipeline.batches(split, 3, TINY, 4, overlap, backbone="mobilenet_v2")) for overlap in (False, True)
    )
    assert len(plain) == len(overlapped) > 1
    for (positions, inputs), (positions_o, inputs_o) in zip(plain, overlapped, strict=True):
        np.testing.assert_array_equal(positions, positions_o)
        np.testing.assert_array_equal(inputs, inputs_o)
    kept = np.concatenate([positions for positions, _ in plain])
    assert kept[0] >= 3 and np.all(np.diff(kept) > 0)  # from the start position, in order, bad files left out
    assert len(kept) == len(split) - 3 - sum(not decodes for decodes in dataset[1].values())


UP_TO_DATE_CHECK = """
import sys
from extract.running import build
from extract.config import ExtractConfig
summary = build.run(ExtractConfig(**eval(sys.argv[1])), progress=False)
print(summary.status, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


@pytest.mark.slow
def test_an_up_to_date_cache_is_decided_without_tensorflow(dataset, tmp_path, random_weights, engine_dir):
    config = config_for(dataset, tmp_path, random_weights, engine_dir)
    build.run(config, progress=False)
    settings = repr(
        {
            key: getattr(config, key)
            for key in ("data", "weights", "image_size", "out", "engine", "engine_dir", "batch", "shard_size")
        }
    )

    def check() -> str:
        return subprocess.run(
            [sys.executable, "-c", UP_TO_DATE_CHECK, settings], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split()

    assert check() == ["up", "to", "date", "False", "False"]
    (tmp_path / "weights-copy.weights.h5").write_bytes(random_weights.read_bytes())
    settings = repr(dict(eval(settings), weights=str(tmp_path / "weights-copy.weights.h5")))  # the same bytes
    assert check() == ["up", "to", "date", "False", "False"]
    if not engines.has_gpu():  # `auto` is another quick key, but resolves to the same engine here
        settings = repr(dict(eval(settings), engine="auto"))
        assert check() == ["up", "to", "date", "True", "True"]  # the full fingerprint decided it


def test_a_changed_weights_file_or_dataset_misses_the_quick_key(dataset, tmp_path, random_weights):
    from extract.reading.sources import cheap_fingerprint

    root, _ = dataset
    config = ExtractConfig(data=str(root), weights=str(random_weights), image_size=TINY, out=str(tmp_path))
    key = config.quick_key(cheap_fingerprint(config.data))
    assert key == config.quick_key(cheap_fingerprint(config.data))
    assert ExtractConfig(**(vars(config) | {"image_size": 40})).quick_key(cheap_fingerprint(config.data)) != key
    assert config.quick_key(cheap_fingerprint(config.data, limit=3)) != key
    assert ExtractConfig(**(vars(config) | {"weights": str(tmp_path / "none.h5")})).quick_key("x") is None


@pytest.mark.slow
def test_two_concurrent_extractions_into_one_folder(tmp_path, random_weights, engine_dir):
    data = write_class_folders(tmp_path / "data" / "train", ["a", "b"], 300).parent
    write_class_folders(data / "validation", ["a", "b"], 10, seed=1)
    args = [
        "--quiet",
        "--data",
        str(data),
        "--weights",
        str(random_weights),
        "--image-size",
        str(TINY),
        "--engine",
        "keras",
        "--engine-dir",
        str(engine_dir),
        "--shard-size",
        "16",
        "--batch",
        "8",
    ]
    reference = build.run(
        ExtractConfig(
            data=str(data),
            weights=str(random_weights),
            image_size=TINY,
            engine="keras",
            engine_dir=str(engine_dir),
            shard_size=16,
            batch=8,
            out=str(tmp_path / "reference"),
        ),
        progress=False,
    ).path
    out = tmp_path / "shared"
    command = [sys.executable, "-m", "extract", "--out", str(out), *args]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = out / ".lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text()) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # the first run holds the folder
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    first_out, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert second.returncode == 1
    assert second.stderr.startswith(f"error: {out} is being written by make features (pid {first.pid}")
    assert second.stderr.count("\n") == 1
    for split in ("train", "validation"):
        mine, expected = cache.read_split(out / "features.h5", split), cache.read_split(reference, split)
        assert mine.ids == expected.ids
        np.testing.assert_array_equal(mine.features, expected.features)


@pytest.mark.slow
def test_a_damaged_cache_is_rebuilt_and_heads_say_so(dataset, tmp_path, random_weights, engine_dir, capsys):
    config = config_for(dataset, tmp_path, random_weights, engine_dir)
    build.run(config, progress=False)
    reference = cache.read_split(config.paths.cache, "train")
    with h5py.File(config.paths.cache, "r") as handle:  # where the first chunk of features lies
        chunk = handle["train/features/out_relu"].id.get_chunk_info(0)
    data = bytearray(config.paths.cache.read_bytes())
    start = chunk.byte_offset + 64  # the first rows' values
    data[start : start + 512] = b"\xff" * 512  # overwritten inside, not truncated
    config.paths.cache.write_bytes(bytes(data))
    from classify.__main__ import main as heads_main

    assert heads_main(["--out", str(tmp_path), "--seeds", "1", "--epochs", "1"]) == 1
    assert "damaged" in capsys.readouterr().err
    summary = build.run(config, progress=False)
    assert summary.status.startswith("rebuilt, since") and "damaged" in summary.status
    rebuilt = cache.read_split(config.paths.cache, "train")
    assert rebuilt.ids == reference.ids
    np.testing.assert_array_equal(rebuilt.features, reference.features)
    assert build.run(config, progress=False).status == "up to date"


def extract_cli(data, out, weights, engine_dir) -> int:
    """`python -m extract` in this process, quiet, on generated images at TINY px."""
    args = ["--data", str(data), "--weights", str(weights), "--image-size", str(TINY), "--out", str(out)]
    return extract_main([*args, "--engine-dir", str(engine_dir), "--quiet"])


@pytest.mark.slow
def test_a_class_with_no_images_in_a_split_is_warned_about(tmp_path, random_weights, engine_dir, capsys):
    write_class_folders(tmp_path / "data" / "train", ["a", "b", "c"], 3)
    write_class_folders(tmp_path / "data" / "validation", ["a", "b"], 2, seed=1)
    (tmp_path / "data" / "validation" / "c").mkdir()  # an empty class folder
    assert extract_cli(tmp_path / "data", tmp_path / "out", random_weights, engine_dir) == 0
    assert "warning: no validation images of class c" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["split folders", "class folders alone"])
def test_odd_names_are_kept_and_broken_links_skipped_with_a_reason(
    tmp_path, random_weights, engine_dir, layout, capsys
):
    root = tmp_path / "data"
    classes = root / "train" if layout == "split folders" else root
    write_class_folders(classes, ["a", "b"], 30)  # enough for every split of the 80/10/10 hash
    if layout == "split folders":
        write_class_folders(root / "validation", ["a", "b"], 2, seed=1)
    odd_bytes = os.fsencode(classes / "a") + b"/bad\xffutf8 name.jpg"  # not valid UTF-8
    colour_image(0, 99).save(open(odd_bytes, "wb"), format="JPEG")
    (classes / "b" / "gone.jpg").symlink_to(classes / "b" / "nowhere.jpg")
    assert extract_cli(root, tmp_path / "out", random_weights, engine_dir) == 0
    printed = capsys.readouterr().out
    path = Paths(tmp_path / "out").cache
    kept = {item: split for split in cache.splits(path) for item in cache.read_split(path, split).ids}
    skipped = {item: reason for split in cache.splits(path) for item, reason in cache.skipped(path, split)}
    odd = [item for item in kept if "utf8" in item]
    assert len(odd) == 1 and os.fsencode(root) + b"/" + os.fsencode(odd[0]) == odd_bytes  # the name round-trips
    (gone,) = [item for item in skipped if item.endswith("gone.jpg")]
    assert skipped[gone] == "unreadable: No such file or directory"
    assert "skipped " in printed and "gone.jpg: unreadable" in printed


@pytest.mark.slow
def test_touch_re_extracts_nothing_and_verify_catches_an_edit_that_kept_size_and_mtime(
    tmp_path, random_weights, engine_dir
):
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 6)
    write_class_folders(data / "validation", ["a", "b"], 2, seed=1)
    config = ExtractConfig(
        data=str(data),
        weights=str(random_weights),
        image_size=TINY,
        out=str(tmp_path / "out"),
        engine="tflite",
        engine_dir=str(engine_dir),
    )
    build.run(config, progress=False)
    stamp = config.paths.cache.stat().st_mtime_ns
    settings = repr(
        {key: getattr(config, key) for key in ("data", "weights", "image_size", "out", "engine", "engine_dir")}
    )
    victim = data / "train" / "a" / "a.0.jpg"
    os.utime(victim)  # touch
    checked = subprocess.run(
        [sys.executable, "-c", UP_TO_DATE_CHECK, settings], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert checked == ["up", "to", "date", "False", "False"]  # one file hashed again; no TensorFlow
    assert config.paths.cache.stat().st_mtime_ns == stamp

    before = victim.stat()
    edited = bytearray(victim.read_bytes())
    edited[len(edited) // 2] ^= 0x01  # another image, same size
    victim.write_bytes(bytes(edited))
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same modification time
    assert build.run(config, progress=False).status == "up to date"  # unseen: size and mtime trusted
    verified = build.run(ExtractConfig(**(vars(config) | {"verify": True})), progress=False)
    assert verified.status == "updated: 1 new or changed inputs extracted, 15 reused"
    assert config.paths.cache.stat().st_mtime_ns != stamp


@pytest.mark.slow
def test_only_the_inputs_decoded_near_a_libjpeg_warning_are_decoded_again_to_find_it(
    tmp_path, random_weights, engine_dir
):
    """Its file is found among a few suspects, not by decoding the whole shard again."""
    from extract.network import backbone, engines
    from extract.reading.sources import folder_source
    from extract.running import shard_work

    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 60)
    write_class_folders(data / "validation", ["a", "b"], 2, seed=1)
    victim = data / "train" / "a" / "a.5.jpg"
    colour_image(0, 7, size=(160, 120)).save(victim)
    whole = victim.read_bytes()
    victim.write_bytes(whole[: len(whole) // 2] + whole[-2:])  # decodes, with "premature end of data segment"
    train = folder_source(data).splits[0]
    config = small_shards(data, tmp_path, random_weights, engine_dir, shard_size=1024)
    model = backbone.build_backbone(config.weights, TINY, config.source)
    engine = engines.make_engine("tflite", model, backbone.weights_sha256(model), TINY, 4, engine_dir)
    ((_, shard),) = shard_work.extract_shards(train, [0], engine, config)
    position = train.ids.index("train/a/a.5.jpg")
    assert position in shard.suspects.tolist()
    assert len(shard.suspects) <= 2 * (os.cpu_count() or 1) + 2 * config.batch < len(train) / 4, len(shard.suspects)


@pytest.mark.slow
def test_a_jpeg_decoded_despite_damaged_data_is_kept_and_named(tmp_path, random_weights, engine_dir, capsys):
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 6)
    write_class_folders(data / "validation", ["a", "b"], 2, seed=1)
    colour_image(0, 7, size=(160, 120)).save(data / "train" / "a" / "damaged.jpg")
    whole = (data / "train" / "a" / "damaged.jpg").read_bytes()
    (data / "train" / "a" / "damaged.jpg").write_bytes(whole[: len(whole) // 2] + whole[-2:])  # scan cut short
    args = ["--quiet", "--data", str(data), "--weights", str(random_weights), "--image-size", str(TINY)]
    args += ["--out", str(tmp_path / "out"), "--engine", "tflite", "--engine-dir", str(engine_dir)]
    assert extract_main(args) == 0
    warning = "train/a/damaged.jpg, though its data is damaged: Corrupt JPEG data: premature end of data segment"
    assert f"kept {warning}" in capsys.readouterr().out
    path = tmp_path / "out" / "features.h5"
    assert "train/a/damaged.jpg" in cache.ids(path, "train")

    colour_image(1, 99).save(data / "train" / "b" / "b.new.jpg")  # an update reuses the row and its warning
    assert extract_main(args) == 0
    assert f"kept {warning}" in capsys.readouterr().out
    assert cache.info(path)["splits"]["train"]["extracted"] == 1


@pytest.mark.slow
def test_heads_on_a_cache_whose_data_changed_since_say_so(tmp_path, random_weights, engine_dir, capsys):
    from classify.__main__ import main as heads_main

    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 8)
    write_class_folders(data / "validation", ["a", "b"], 3, seed=1)
    out = tmp_path / "out"
    generated_cache(data, out, random_weights, engine_dir)
    args = ["--out", str(out), "--heads", "logreg", "--seeds", "1"]
    assert heads_main(args) == 0
    assert "warning" not in capsys.readouterr().out
    colour_image(0, 50).save(data / "train" / "a" / "a.new.jpg")
    colour_image(1, 51).save(data / "train" / "b" / "b.0.jpg")
    assert heads_main(args) == 0
    printed = capsys.readouterr().out
    assert f"warning: {data} changed since the cache was built (1 added, 1 changed)" in printed
    assert json.loads(Paths(out).heads_metrics.read_text())["logreg"]["data_changed"].endswith("(1 added, 1 changed)")


@pytest.mark.slow
def test_an_update_extracts_only_new_and_changed_files_and_equals_a_fresh_build(
    tmp_path, random_weights, engine_dir, monkeypatch
):
    from extract.running import shard_work

    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 12)
    write_class_folders(data / "validation", ["a", "b"], 3, seed=1)
    (data / "train" / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    updated = small_shards(data, tmp_path / "updated", random_weights, engine_dir)
    build.run(updated, progress=False)

    for i in range(3):  # sorted among the others: a.1.jpg < a.10.x.jpg < a.11.jpg
        colour_image(0, 500 + i).save(data / "train" / "a" / f"a.10.{i}.jpg")
    for i in range(2):
        colour_image(1, 600 + i).save(data / "validation" / "b" / f"b.new{i}.jpg")
    colour_image(1, 700).save(data / "train" / "b" / "b.3.jpg")  # changed
    (data / "train" / "b" / "b.5.jpg").unlink()  # removed
    extracted = []
    real_batches = shard_work.batches

    def counting_batches(split, *args, **kwargs):
        for positions, batch in real_batches(split, *args, **kwargs):
            extracted.extend(split.ids[i] for i in positions)
            yield positions, batch

    monkeypatch.setattr(shard_work, "batches", counting_batches)
    summary = build.run(updated, progress=False)
    monkeypatch.undo()

    assert summary.status == "updated: 6 new or changed inputs extracted, 29 reused"
    assert sorted(extracted) == sorted(
        [f"train/a/a.10.{i}.jpg" for i in range(3)]
        + ["validation/b/b.new0.jpg", "validation/b/b.new1.jpg"]
        + ["train/b/b.3.jpg"]
    )  # the broken file's reason is reused: it is not decoded again
    fresh = build.run(small_shards(data, tmp_path / "fresh", random_weights, engine_dir), progress=False).path
    assert cache.info(summary.path)["fingerprint"] == cache.info(fresh)["fingerprint"]
    for split in ("train", "validation"):
        mine, theirs = cache.read_split(summary.path, split), cache.read_split(fresh, split)
        assert mine.ids == theirs.ids and "train/b/b.5.jpg" not in mine.ids
        np.testing.assert_array_equal(mine.labels, theirs.labels)
        np.testing.assert_array_equal(mine.features, theirs.features)
        assert cache.skipped(summary.path, split) == cache.skipped(fresh, split)
        assert cache.contents(summary.path, split) == cache.contents(fresh, split)
    train = cache.info(summary.path)["splits"]["train"]
    assert train["extracted"] == 4
    assert train["seconds"] > train["run_seconds"]  # the cost of every row: reused ones at their old rate
