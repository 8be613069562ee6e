"""Logistic regression on features, without TensorFlow: the pipeline `make heads` searches and
`make audit` cross-validates, and how their folds run."""

from __future__ import annotations

from contextlib import contextmanager

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


def logreg_pipeline(c: float, seed: int) -> Pipeline:
    """Standardise, then logistic regression with inverse regularisation strength `c`."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )


@contextmanager
def fold_threads():
    """Cross-validation folds in threads, one BLAS thread each: on a problem this small OpenBLAS's
    own threads made each fit 4-10× slower, and worker processes take longer to start than the
    search takes to run (BENCHMARKS.md)."""
    with threadpool_limits(1), joblib.parallel_config(backend="threading"):
        yield
