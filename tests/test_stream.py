"""Fine-tuning's training stream: every epoch a pure function of (seed, epoch), so a stream made
afresh for a resumed run serves what the uninterrupted one does."""

from pathlib import Path

import numpy as np
import pytest

from extract.reading.sources import folder_source
from finetune.data import TrainingStream
from tests.conftest import TINY, write_class_folders
from tests.mixing import assert_batched


@pytest.fixture(scope="module")
def train_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    write_class_folders(root / "train", ["a", "b", "c"], 6)
    return folder_source(root).splits[0]


def served(stream: TrainingStream, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    stream.epoch = epoch
    return list(stream.dataset.as_numpy_iterator())


@pytest.mark.parametrize("batch", [4, 5])  # 17 rows: a last batch of 1 left out; one of 2 kept
def test_a_resumed_stream_serves_the_epochs_of_the_uninterrupted_one(train_split, batch):
    keep = np.ones(len(train_split), dtype=bool)
    keep[3] = False
    make = lambda: TrainingStream(train_split, keep, TINY, batch, False, seed=7, augment=True, backbone="mobilenet_v2")  # noqa: E731
    alone = make()
    epochs = [served(alone, epoch) for epoch in range(3)]
    resumed = make()  # a new process's stream, its first epoch the third
    for got, want in zip(served(resumed, 2), epochs[2], strict=True):
        np.testing.assert_array_equal(got[0], want[0])  # the same images, augmented alike
        np.testing.assert_array_equal(got[1], want[1])
    for epoch, batches in enumerate(epochs):
        labels = [b[1] for b in batches]
        assert_batched(labels, int(keep.sum()), batch)
        order = alone.plan(epoch).positions
        np.testing.assert_array_equal(np.concatenate(labels), train_split.labels[order][: sum(map(len, labels))])
    assert not np.array_equal(epochs[0][0][0], epochs[1][0][0])  # a new order or new views every epoch
    assert alone.plan(1).augmentation_seed != alone.plan(2).augmentation_seed
    assert alone.served.keys() == {0, 1, 2}  # what each pass was made from, as the run's stream log records it


def test_augmentation_is_on_only_when_asked(train_split):
    keep = np.ones(len(train_split), dtype=bool)
    plain, augmented = (
        TrainingStream(train_split, keep, TINY, 18, False, 0, augment, backbone="mobilenet_v2")
        for augment in (False, True)
    )
    (images, _), (views, _) = served(plain, 0)[0], served(augmented, 0)[0]
    assert not np.allclose(images, views)
    assert images.min() >= -1 and images.max() <= 1


def test_a_folder_split_is_read_at_the_planned_positions_each_its_own_file(train_split):
    """A folder split is read in any order: the plan's positions as planned, each with its own
    file's bytes (a TFDS split, read in order only, is reordered instead: test_finetune.py)."""
    keep = np.ones(len(train_split), dtype=bool)
    keep[3] = False
    stream = TrainingStream(train_split, keep, TINY, 4, False, seed=7, augment=False, backbone="mobilenet_v2")
    planned = stream.plan(1).positions
    read = list(stream.read(planned).as_numpy_iterator())
    np.testing.assert_array_equal([position for position, _ in read], planned)
    assert [encoded for _, encoded in read] == [Path(train_split.paths[p]).read_bytes() for p in planned]
