"""The per-image statistics behind the verdict, beside the bootstrap intervals of
`classify.metrics` (every score and paired difference, from the same resamples of the images).

McNemar's exact test needs one outcome per image: each method's majority vote over its runs of
whether it got the image right (a tie goes to its first run); the confusion matrices need one
predicted class per image: the class most runs predicted.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest


def correctness(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(runs, images, classes) probabilities → (runs, images) 1.0 where a run's argmax is the label."""
    return (np.asarray(probabilities).argmax(axis=-1) == np.asarray(labels)[None, :]).astype(np.float64)


def majority(correct: np.ndarray) -> np.ndarray:
    """(runs, images) → (images,) bool: right in more than half the runs; a tie goes to the first run."""
    share = correct.mean(axis=0)
    return np.where(share == 0.5, correct[0] > 0.5, share > 0.5)


def voted(probabilities: np.ndarray) -> np.ndarray:
    """(runs, images, classes) → (images,) the class most runs predicted; a tie goes to the class
    the earliest of the tied runs predicted."""
    predicted = np.asarray(probabilities).argmax(axis=-1)
    votes = np.eye(probabilities.shape[-1], dtype=int)[predicted].sum(axis=0)  # (images, classes)
    images = np.arange(predicted.shape[1])
    mine = votes[images, predicted]  # (runs, images): the votes of each run's choice
    return predicted[(mine == votes.max(axis=1)).argmax(axis=0), images]


def mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Exact (binomial) two-sided McNemar p-value of the two methods' majority votes."""
    a, b = majority(correct_a), majority(correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
