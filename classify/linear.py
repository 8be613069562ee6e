"""Logistic regression on features, without TensorFlow: the pipeline `make heads` searches and
`make audit` cross-validates, and how their folds run."""

from __future__ import annotations

from contextlib import contextmanager

import joblib
import numpy as np
from scipy import optimize, special
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from classify.part import Part

MAX_ITER = 2000


def logreg_pipeline(c: float, seed: int, class_weight: dict[int, float] | None = None) -> Pipeline:
    """Standardise, then logistic regression with inverse regularisation strength `c` (and each
    class's rows weighted by `class_weight`, where given)."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed, class_weight=class_weight)),
        ]
    )


@contextmanager
def fold_threads():
    """Cross-validation folds in threads, one BLAS thread each: on a problem this small OpenBLAS's
    own threads made each fit 4-10× slower, and worker processes take longer to start than the
    search takes to run (BENCHMARKS.md)."""
    with threadpool_limits(1), joblib.parallel_config(backend="threading"):
        yield


def streamed_logreg(
    part: Part,
    c: float,
    start: Pipeline,
    seed: int,
    class_weight: dict[int, float] | None = None,
    tol: float = 1e-4,
    progress: bool = False,
) -> tuple[Pipeline, int]:
    """`logreg_pipeline(c, seed, class_weight)` fitted on every view of a part larger than memory;
    also the passes it took over the part.

    The standardisation comes from one pass. Then L-BFGS minimises the objective LogisticRegression
    minimises (mean log loss + |W|² / 2Cn, each row's loss weighted by its class's weight and n the
    sum of the weights; multinomial above two classes, one logit for two), with
    its settings, each step one pass over the part's blocks, as Spark MLlib's logistic regression
    does. So it agrees with the in-memory fit to the solver's tolerance, unlike streaming SGD, which
    came 0.2-1.0 points short on the real cache (BENCHMARKS.md). It starts from `start`, a pipeline
    fitted on a sample, which saves most of the passes."""
    scaler = StandardScaler()
    for features, _ in _view_rows(part):
        scaler.partial_fit(features)
    classes = np.unique(part.labels)
    logits = 1 if len(classes) == 2 else len(classes)
    row_weight = np.ones(len(classes)) if class_weight is None else np.array([class_weight[k] for k in classes])
    rows = part.views * float(row_weight[np.searchsorted(classes, part.labels)].sum())
    shape = (logits, part.dim)

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = w[: logits * part.dim].reshape(shape), w[logits * part.dim :]
        total, gradient, bias_gradient = 0.0, np.zeros(shape), np.zeros(logits)
        for features, labels in _view_rows(part):
            scaled = scaler.transform(features)
            z = (scaled @ weights.T.astype(np.float32)).astype(np.float64) + bias
            weight = row_weight[np.searchsorted(classes, labels)]
            if logits == 1:
                total += float(np.sum(weight * (np.logaddexp(0.0, z[:, 0]) - labels * z[:, 0])))
                residual = special.expit(z) - labels[:, None]
            else:
                normaliser = special.logsumexp(z, axis=1)
                total += float(np.sum(weight * (normaliser - z[np.arange(len(z)), labels])))
                residual = np.exp(z - normaliser[:, None])
                residual[np.arange(len(z)), labels] -= 1.0
            residual *= weight[:, None]
            gradient += residual.T.astype(np.float32) @ scaled
            bias_gradient += residual.sum(axis=0)
        penalty = 1.0 / (c * rows)
        loss = total / rows + 0.5 * penalty * float(np.sum(weights**2))
        return loss, np.concatenate([(gradient / rows + penalty * weights).ravel(), bias_gradient / rows])

    with tqdm(desc="logistic regression", unit="pass", disable=not progress, dynamic_ncols=True) as bar:

        def counted(w: np.ndarray) -> tuple[float, np.ndarray]:
            bar.update()
            return loss_and_gradient(w)

        result = optimize.minimize(
            counted,
            np.concatenate(_in_scale(start, scaler)),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": MAX_ITER, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
        )
    fitted = logreg_pipeline(c, seed, class_weight)
    model = fitted.named_steps["logreg"]
    model.coef_ = result.x[: logits * part.dim].reshape(shape)
    model.intercept_ = result.x[logits * part.dim :]
    model.classes_, model.n_features_in_, model.n_iter_ = classes, part.dim, np.array([result.nit])
    fitted.steps[0] = ("scale", scaler)
    return fitted, 1 + int(result.nfev)


def _view_rows(part: Part):
    """(features, labels) of every view, a block at a time, in the part's order."""
    for features, labels in part.blocks():
        yield features.reshape(-1, part.dim), np.repeat(labels, part.views)


def _in_scale(start: Pipeline, scaler: StandardScaler) -> tuple[np.ndarray, np.ndarray]:
    """A fitted pipeline's weights (flattened) and bias, re-expressed for features standardised by
    `scaler` instead of its own: the same decision function."""
    own, model = start.named_steps["scale"], start.named_steps["logreg"]
    weights = model.coef_ * scaler.scale_ / own.scale_
    bias = model.intercept_ + model.coef_ @ ((scaler.mean_ - own.mean_) / own.scale_)
    return weights.ravel(), bias
