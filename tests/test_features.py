"""Which feature blocks a head uses (`FEATURES`): chosen on the choice rows, never on the scored split."""

import json

import h5py
import numpy as np
import pytest

from bench.synthetic import gaussian_cache
from classify import train
from classify.config import HeadConfig
from classify.features import candidates
from classify.part import Part, columns
from extract.network.feature_source import LayersError
from workflow.paths import Paths

# an early block that carries the classes, and a last layer of noise
BLOCKS = {"block_16_project_BN": 8, "out_relu": 24}


def two_block_cache(out, informative):
    return gaussian_cache(Paths(out).cache, 3, None, blocks=BLOCKS, spread=1.5, informative=informative)


def trained(out, **settings):
    config = HeadConfig(out=str(out), heads=["logreg"], seeds=2, jobs=1, **settings)
    return train.run(config)["logreg"]


def test_the_candidates_are_the_last_layer_and_every_stored_one():
    assert candidates("choose", BLOCKS) == {
        "last layer": ("out_relu",),
        "all 2 stored layers": ("block_16_project_BN", "out_relu"),
    }
    assert candidates("choose", {"out_relu": 1280}) == {"last layer": ("out_relu",)}
    assert candidates("last", BLOCKS) == {"last": ("out_relu",)}
    # a comma list in any order keeps the cache's column order
    assert candidates("out_relu,block_16_project_BN", BLOCKS) == {
        "out_relu,block_16_project_BN": ("block_16_project_BN", "out_relu")
    }
    with pytest.raises(LayersError, match="holds no block_1_project_BN") as caught:
        candidates("block_1_project_BN", BLOCKS)
    assert "\n" not in str(caught.value)


def test_only_reads_the_chosen_blocks_columns_from_disk_and_memory_alike(tmp_path):
    path = two_block_cache(tmp_path, informative=8)
    whole = Part.whole(path, "train")
    streamed = whole.only(("out_relu",), BLOCKS).load()
    in_memory = whole.load().only(("out_relu",), BLOCKS)
    assert streamed.features.shape[-1] == in_memory.features.shape[-1] == 24
    np.testing.assert_array_equal(streamed.features, in_memory.features)
    np.testing.assert_array_equal(in_memory.features, whole.load().features[..., 8:])
    assert list(columns(("block_16_project_BN",), BLOCKS)) == list(range(8))


def test_a_head_takes_the_early_block_where_the_classes_are_and_predicts_through_it(tmp_path):
    two_block_cache(tmp_path, informative=8)
    entry = trained(tmp_path)
    assert entry["features"]["layers"] == list(BLOCKS)
    losses = entry["features"]["choice_losses"]
    assert losses["all 2 stored layers"] < losses["last layer"] - 0.2
    assert entry["test"]["accuracy"] > 0.8
    assert entry["choices"].startswith("features: all 2 stored layers (32 values), the lower log loss on")
    # the saved model's record names only the chosen blocks: predict and export rebuild those
    record = json.loads((Paths(tmp_path).heads / "logreg.json").read_text())
    assert record["feature_source"]["layers"] == list(BLOCKS)


def test_the_last_layer_is_kept_where_the_other_blocks_add_only_noise(tmp_path):
    gaussian_cache(Paths(tmp_path).cache, 3, {"train": 300, "validation": 600, "test": 150}, blocks=BLOCKS, spread=1.5)
    # every column informative, then the early block replaced by noise
    with h5py.File(Paths(tmp_path).cache, "r+") as handle:
        for split in ("train", "validation", "test"):
            block = handle[f"{split}/features/block_16_project_BN"]
            block[...] = np.random.default_rng(1).normal(0, 1, block.shape) * 30
    entry = trained(tmp_path, cs=[10.0])  # weak regularisation: noise columns cost choice loss
    assert entry["features"]["layers"] == ["out_relu"]


def test_the_choice_never_reads_the_scored_split(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        two_block_cache(out, informative=8)
    with h5py.File(Paths(second).cache, "r+") as handle:
        labels = handle["test/labels"]
        labels[...] = np.random.default_rng(0).permutation(labels[...])
    a, b = trained(first), trained(second)
    assert a["features"] == b["features"]
    assert a["test"]["accuracy"] != b["test"]["accuracy"]  # the scored labels did change


def test_features_set_to_one_stored_set_trains_on_it_alone(tmp_path):
    two_block_cache(tmp_path, informative=8)
    entry = trained(tmp_path, features="last")
    assert entry["features"]["layers"] == ["out_relu"] and list(entry["features"]["choice_losses"]) == ["last"]
    assert entry["choices"].startswith("features: last (24 values);")
