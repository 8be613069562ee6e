"""The checks every training stream must pass: it mixes the classes throughout an epoch, and
its batches are whole but for a last one of half a batch or more.

The cache stores each class's rows together (listing order), so a stream that samples blocks
or buffers from that order sees one class at a time. Each tenth of an epoch must hold every
class in its share of the whole stream, within binomial noise.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

PARTS = 10
ALPHA = 1e-3  # for the whole check, Bonferroni-split over every (tenth, class) pair


def unmixed_parts(stream_labels, n_classes: int | None = None, parts: int = PARTS, views: int = 1) -> list[str]:
    """Each (tenth, class) whose count is off its expected share beyond binomial noise, as a sentence.
    `views`: rows per image. An image's views share its label and come from the same block, so the
    noise is that of images, not rows: counts are taken in images."""
    labels = np.asarray(stream_labels).astype(int).ravel()
    n_classes = n_classes or int(labels.max()) + 1
    shares = np.bincount(labels, minlength=n_classes) / len(labels)
    level = ALPHA / (parts * n_classes)
    problems = []
    for index, chunk in enumerate(np.array_split(labels, parts)):
        counts = np.bincount(chunk, minlength=n_classes)
        for label in np.flatnonzero(shares):
            if binomtest(round(counts[label] / views), round(len(chunk) / views), shares[label]).pvalue < level:
                problems.append(
                    f"tenth {index}: class {label} has {counts[label]} of {len(chunk)} rows, "
                    f"expected about {shares[label] * len(chunk):.0f}"
                )
    return problems


def assert_mixed(stream_labels, n_classes: int | None = None, views: int = 1) -> None:
    problems = unmixed_parts(stream_labels, n_classes, views=views)
    assert not problems, "the stream does not mix its classes:\n" + "\n".join(problems[:10])


def assert_batched(batches: list, count: int, batch: int) -> None:
    """Full batches of `count` rows, and the last partial batch only if it holds half a batch or
    more; left out, it is under half a batch (`network.training_batches`)."""
    sizes = [len(labels) for labels in batches]
    assert set(sizes[:-1]) <= {batch} and 2 * sizes[-1] >= min(batch, count), sizes
    remainder = count % batch
    assert sum(sizes) == (count - remainder if 2 * remainder < batch else count), (sizes, count)
