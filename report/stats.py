"""The statistics behind the verdict, on per-image correctness of the scored split.

A method that ran with several seeds is summarised per image by the share of its runs that got
the image right (`correctness`), so its accuracy is the mean over seeds and every interval
resamples images, the unit the scored split samples. Paired comparisons resample the same
images for both methods. McNemar's exact test needs one prediction per image: each method's
majority vote over its runs (a tie goes to its first run).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from classify.metrics import Interval, percentiles, resample_counts

__all__ = ["Interval", "accuracy_interval", "correctness", "majority", "mcnemar_p", "paired_difference"]


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


def _resampled_means(per_image: np.ndarray, seed: int) -> np.ndarray:
    """Means of `per_image` over the bootstrap resamples of the images (`metrics.resample_counts`)."""
    return np.concatenate([counts @ per_image for counts in resample_counts(len(per_image), seed)]) / len(per_image)


def accuracy_interval(correct: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy (mean over runs) with a 95% percentile-bootstrap interval over images."""
    per_image = correct.mean(axis=0)
    return percentiles(per_image.mean(), _resampled_means(per_image, seed))


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy of A minus accuracy of B on the same images, with a paired 95% bootstrap interval."""
    per_image = correct_a.mean(axis=0) - correct_b.mean(axis=0)
    return percentiles(per_image.mean(), _resampled_means(per_image, seed))


def mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Exact (binomial) two-sided McNemar p-value of the two methods' majority votes."""
    a, b = majority(correct_a), majority(correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
