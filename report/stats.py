"""The statistics behind the verdict, on per-image correctness of the scored split.

A method that ran with several seeds is summarised per image by the share of its runs that got
the image right (`correctness`), so its accuracy is the mean over seeds and every interval
resamples images, the unit the scored split samples. Paired comparisons resample the same
images for both methods. McNemar's exact test needs one prediction per image: each method's
majority vote over its runs (a tie goes to its first run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

BOOTSTRAP_SAMPLES = 4000
CONFIDENCE = 0.95


def correctness(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(runs, images, classes) probabilities → (runs, images) 1.0 where a run's argmax is the label."""
    return (np.asarray(probabilities).argmax(axis=-1) == np.asarray(labels)[None, :]).astype(np.float64)


def majority(correct: np.ndarray) -> np.ndarray:
    """(runs, images) → (images,) bool: right in more than half the runs; a tie goes to the first run."""
    share = correct.mean(axis=0)
    return np.where(share == 0.5, correct[0] > 0.5, share > 0.5)


@dataclass
class Interval:
    estimate: float
    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def negated(self) -> Interval:
        """The same difference taken the other way round."""
        return Interval(-self.estimate, -self.high, -self.low)


def _resampled_means(per_image: np.ndarray, seed: int) -> np.ndarray:
    """Means of `per_image` over BOOTSTRAP_SAMPLES resamples of the images, with replacement."""
    rng = np.random.default_rng(seed)
    count = len(per_image)
    means = np.empty(BOOTSTRAP_SAMPLES)
    for start in range(0, BOOTSTRAP_SAMPLES, 500):  # 500 resamples at a time bounds memory
        rows = rng.integers(0, count, (min(500, BOOTSTRAP_SAMPLES - start), count))
        means[start : start + len(rows)] = per_image[rows].mean(axis=1)
    return means


def _percentiles(estimate: float, samples: np.ndarray) -> Interval:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def accuracy_interval(correct: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy (mean over runs) with a 95% percentile-bootstrap interval over images."""
    per_image = correct.mean(axis=0)
    return _percentiles(per_image.mean(), _resampled_means(per_image, seed))


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray, seed: int = 0) -> Interval:
    """Accuracy of A minus accuracy of B on the same images, with a paired 95% bootstrap interval."""
    per_image = correct_a.mean(axis=0) - correct_b.mean(axis=0)
    return _percentiles(per_image.mean(), _resampled_means(per_image, seed))


def mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Exact (binomial) two-sided McNemar p-value of the two methods' majority votes."""
    a, b = majority(correct_a), majority(correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
