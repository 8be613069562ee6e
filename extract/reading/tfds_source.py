"""The TFDS reader: the tutorial's 80/10/10 split of a TFDS dataset's train split, in the order TFDS
generated it (shuffled already). TensorFlow is imported only when a TFDS source is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from extract.reading.hashes import digest
from extract.reading.split import DataError, Source, Split
from workflow.errors import WorkflowError

TFDS_SPLITS = {"train": "train[:80%]", "validation": "train[80%:90%]", "test": "train[90%:]"}


def tfds_source(name: str, limit: int | None = None, data_dir: str | None = None) -> Source:
    """The tutorial's split of a TFDS dataset's train split: first 80% train, 10% validation, 10% test."""
    import tensorflow_datasets as tfds

    from extract.reading.online import require_network

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            require_network(f"TFDS dataset {name!r}", "pass DATA=<folder of class folders>")
        builder.download_and_prepare()
    except WorkflowError:
        raise
    except Exception as err:  # TFDS raises many kinds: network, missing dataset, checksums
        raise DataError(
            f"could not load TFDS dataset {name!r} ({type(err).__name__}); "
            "without internet, pass DATA=<folder of class folders>"
        ) from err
    class_names = list(builder.info.features["label"].names)
    splits = []
    for split_name, spec in TFDS_SPLITS.items():
        dataset = builder.as_dataset(split=spec, decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False)
        if limit is not None:
            dataset = dataset.take(limit)
        splits.append(_tfds_split(split_name, dataset))
        if not len(splits[-1]):
            raise DataError(f"split {split_name!r} of TFDS {name!r} is empty")
    return Source(
        description=f"tfds:{name}",
        class_names=class_names,
        splits=splits,
        fingerprint=digest([name, str(builder.version), TFDS_SPLITS, limit] + [s.ids for s in splits]),
    )


def _tfds_split(name: str, dataset) -> Split:
    meta = dataset.map(lambda ex: (ex["image/filename"], ex["label"]))
    ids, labels = [], []
    for filename, label in meta.as_numpy_iterator():
        ids.append(filename.decode())
        labels.append(int(label))
    return Split(name, ids, np.array(labels, dtype=np.int64), dataset=dataset.map(lambda ex: ex["image"]))


def cheap_fingerprint(name: str, limit: int | None = None, data_dir: str | None = None) -> str:
    """Covers the sizes and modification times of every file TFDS prepared for the dataset (TFDS's
    default data folder unless `data_dir`): unchanged only while those are."""
    root = Path(data_dir or os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets") / name
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return digest(
        [
            f"tfds:{name}",
            limit,
            [(p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files],
        ]
    )
