import socket
from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from extract.reading import online, pipeline
from extract.reading.sources import TFDS_SPLITS, DataError, cheap_fingerprint, folder_source, in_row_order, open_source
from tests.conftest import write_class_folders
from tests.mixing import assert_mixed, unmixed_parts


@pytest.fixture
def mock_tfds(monkeypatch):
    """TFDS's own mock data, and a network that answers: the download is what both stand in for."""
    monkeypatch.setattr(online, "reachable", lambda *args, **kwargs: True)
    return tfds.testing.mock_data


def collect(split, start=0):
    return [(int(p), bytes(b)) for p, b in pipeline.elements(split, start).as_numpy_iterator()]


def test_train_validation_test_folders_are_the_splits(tmp_path):
    for split in ("train", "validation", "test"):
        write_class_folders(tmp_path / split, ["dogs", "cats"], 3)
    source = folder_source(tmp_path)
    assert source.class_names == ["cats", "dogs"]
    assert [s.name for s in source.splits] == ["train", "validation", "test"]
    train = source.splits[0]
    assert sorted(train.ids) == [f"train/{c}/{c}.{i}.jpg" for c in ("cats", "dogs") for i in range(3)]
    assert train.ids == in_row_order(sorted(train.ids))
    assert [int(label) for label in train.labels] == [int("dogs" in item) for item in train.ids]
    rows = collect(train, start=4)
    assert [p for p, _ in rows] == [4, 5]
    assert rows[0][1] == (tmp_path / train.ids[4]).read_bytes()


def test_a_split_is_stored_in_a_fixed_random_order_that_mixes_the_classes(tmp_path):
    """The listing puts each class's files together; the rows are in a pseudo-random order by hash
    of id instead, so every tenth of a split (any block a reader takes) holds every class in its share."""
    write_class_folders(tmp_path / "train", ["a", "b", "c", "d"], 60)
    write_class_folders(tmp_path / "validation", ["a", "b", "c", "d"], 1)
    train = folder_source(tmp_path).splits[0]
    assert_mixed(train.labels, 4)
    assert unmixed_parts(sorted(train.labels), 4)  # the listing order would fail the same check
    (tmp_path / "train/b/b.7.jpg").rename(tmp_path / "train/b/moved.jpg")  # one file's place changes, no other's
    after = folder_source(tmp_path).splits[0].ids
    assert [item for item in after if item != "train/b/moved.jpg"] == [i for i in train.ids if i != "train/b/b.7.jpg"]


class ClassSorted(tfds.core.GeneratorBasedBuilder):
    """A TFDS dataset generated class by class: 4 classes of 100 examples, each class's together."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = {"image/filename": tfds.features.Text(), "label": tfds.features.ClassLabel(num_classes=4)}
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for label in range(4):
            for i in range(100):
                yield f"{label}-{i}", {"image/filename": f"{label}/{i}.jpg", "label": label}


def test_tfds_splits_come_shuffled_by_tfds_generation(tmp_path):
    """A TFDS source keeps TFDS's order: TFDS shuffles the examples (by a hash of their keys) when it
    prepares a dataset, so each of the tutorial's slices mixes the classes as a folder's row order does."""
    builder = ClassSorted(data_dir=str(tmp_path))
    builder.download_and_prepare()
    for spec in TFDS_SPLITS.values():
        labels = [int(x["label"]) for x in builder.as_dataset(split=spec, shuffle_files=False).as_numpy_iterator()]
        assert_mixed(labels, 4)


def test_val_folder_counts_as_validation_and_test_is_optional(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 2)
    write_class_folders(tmp_path / "val", ["a", "b"], 1)
    assert [s.name for s in folder_source(tmp_path).splits] == ["train", "validation"]


def test_flat_class_folders_split_by_hash_stably(tmp_path):
    write_class_folders(tmp_path, ["x", "y", "z"], 40)
    before = {s.name: set(s.ids) for s in folder_source(tmp_path).splits}
    assert sum(map(len, before.values())) == 120
    assert 80 <= len(before["train"]) <= 110 and before["validation"] and before["test"]
    write_class_folders(tmp_path, ["x"], 60, seed=5)  # more files: none of the old ones moves
    (tmp_path / "x" / "x.59.jpg").rename(tmp_path / "x" / "new.jpg")
    after = {s.name: set(s.ids) for s in folder_source(tmp_path).splits}
    for name, ids in before.items():
        assert ids - {"x/x.59.jpg"} <= after[name]
    assert folder_source(tmp_path).class_names == ["x", "y", "z"]


def test_limit_keeps_every_class_however_rare(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 60)
    write_class_folders(tmp_path / "train", ["rare"], 3, seed=1)
    write_class_folders(tmp_path / "validation", ["a", "b", "rare"], 1)
    counts = np.bincount(folder_source(tmp_path, limit=20).splits[0].labels)
    assert list(counts) == [9, 8, 3] or list(counts) == [8, 9, 3]


def test_limit_takes_a_stable_class_mixed_subset(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 30)
    write_class_folders(tmp_path / "validation", ["a", "b"], 30)
    first = folder_source(tmp_path, limit=20).splits[0]
    assert len(first) == 20 and 0 < first.labels.sum() < 20
    assert first.ids == folder_source(tmp_path, limit=20).splits[0].ids
    assert first.ids == in_row_order(first.ids)


def test_fingerprint_follows_the_files(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 2)
    before = folder_source(tmp_path).fingerprint
    assert folder_source(tmp_path).fingerprint == before
    (tmp_path / "train/a/a.0.jpg").write_bytes(b"changed")
    assert folder_source(tmp_path).fingerprint != before


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "no such folder"),
        (lambda root: write_class_folders(root, ["only"], 2), "at least two class folders"),
        (lambda root: [(root / "train/a").mkdir(parents=True), (root / "train/b").mkdir()], "has no image files"),
        (lambda root: write_class_folders(root / "validation", ["a", "b"], 1), "no train/"),
    ],
)
def test_unusable_folders_are_one_clear_error(tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(DataError, match=message):
        folder_source(root)


def test_unknown_class_in_validation(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 1)
    write_class_folders(tmp_path / "validation", ["a", "c"], 1)
    with pytest.raises(DataError, match=r"\['c'\]"):
        folder_source(tmp_path)


def test_tfds_gives_the_tutorials_three_splits(mock_tfds):
    with mock_tfds(num_examples=6):
        source = open_source("tfds:cats_vs_dogs", limit=4)
    assert source.class_names == ["cat", "dog"]
    assert [s.name for s in source.splits] == ["train", "validation", "test"]
    train = source.splits[0]
    assert len(train) == 4 and len(set(train.ids)) == 4
    rows = collect(train, start=1)
    assert [p for p, _ in rows] == [1, 2, 3]
    assert rows[0][1] == train.read(1)
    assert tf.io.decode_image(rows[0][1]).shape[-1] == 3


@pytest.mark.parametrize("examples", [20, 23262])  # 23,262: cats_vs_dogs
def test_tfds_splits_cut_train_80_10_10_in_order(examples):
    # TFDS's own reading of our split specs (its mock data ignores slicing)
    train = SimpleNamespace(name="train", num_examples=examples)
    ranges = []
    for spec in TFDS_SPLITS.values():
        cut = tfds.core.ReadInstruction.from_spec(spec).to_absolute({"train": train})[0]
        ranges.append((cut.from_ or 0, examples if cut.to is None else cut.to))  # None: an open end
    assert list(TFDS_SPLITS) == ["train", "validation", "test"]
    assert ranges[0][0] == 0 and ranges[-1][1] == examples
    assert all(before[1] == after[0] for before, after in pairwise(ranges))
    sizes = [end - start for start, end in ranges]
    assert sizes == pytest.approx([0.8 * examples, 0.1 * examples, 0.1 * examples], abs=1)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


def test_tfds_offline_fails_at_once_without_retrying(monkeypatch, tmp_path):
    monkeypatch.setattr(online, "PROBE", ("127.0.0.1", closed_port()))

    def download(self, *args, **kwargs):
        raise AssertionError("TFDS must not start downloading when the probe fails")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download)
    with pytest.raises(online.OfflineError, match=r"cannot be reached .*pass DATA=<folder") as raised:
        open_source("tfds:cats_vs_dogs", tfds_data_dir=str(tmp_path))
    assert "\n" not in str(raised.value)


def test_the_probe_sees_a_listening_loopback_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert online.reachable(*server.getsockname(), timeout=2)
    assert not online.reachable("127.0.0.1", closed_port(), timeout=2)


def test_cheap_fingerprint_follows_the_source_without_tensorflow(tmp_path):
    write_class_folders(tmp_path / "train", ["a", "b"], 2)
    assert cheap_fingerprint(str(tmp_path)) == folder_source(tmp_path).fingerprint
    tfds_dir = tmp_path / "tfds"
    (tfds_dir / "cats_vs_dogs" / "4.0.1").mkdir(parents=True)
    record = tfds_dir / "cats_vs_dogs" / "4.0.1" / "cats_vs_dogs-train.tfrecord-00000-of-00001"
    record.write_bytes(b"one")
    before = cheap_fingerprint("tfds:cats_vs_dogs", None, str(tfds_dir))
    assert cheap_fingerprint("tfds:cats_vs_dogs", None, str(tfds_dir)) == before
    assert cheap_fingerprint("tfds:cats_vs_dogs", 10, str(tfds_dir)) != before
    record.write_bytes(b"other")
    assert cheap_fingerprint("tfds:cats_vs_dogs", None, str(tfds_dir)) != before


def test_a_failed_tfds_download_is_one_line_that_says_what_to_do(monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve host")

    monkeypatch.setattr(online, "reachable", lambda *args, **kwargs: True)  # the probe passes, the download fails
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(DataError, match=r"pass DATA=<folder") as raised:
        open_source("tfds:cats_vs_dogs")
    assert "\n" not in str(raised.value)
