"""Standardisation + scikit-learn logistic regression, C chosen by stratified k-fold cross-validation
on the fit rows (multinomial for K classes); on rows larger than memory, C is chosen on a
stratified sample and the same objective is minimised over every row (`linear.streamed_logreg`)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from classify.heads.base import Head, HeadError
from classify.linear import fold_threads, logreg_pipeline, streamed_logreg
from classify.part import every_view


@contextmanager
def search_backend(scheduler: str | None):
    """Where the search's folds run: on a Dask cluster through joblib's dask backend, or in threads."""
    if scheduler is None:
        with fold_threads():
            yield
        return
    from dask.distributed import Client

    with Client(scheduler, timeout="30s"), joblib.parallel_config(backend="dask"):
        yield


def folds_of(config, y: np.ndarray, groups: np.ndarray | None):
    """Stratified k-fold splits; with `groups` (each row's image), an image's views in one fold."""
    images = np.unique(groups, return_index=True)[1] if groups is not None else np.arange(len(y))
    folds = min(config.folds, int(np.bincount(y[images]).min()))
    if folds < 2:
        raise HeadError("every class needs at least two training examples for cross-validation")
    kind = StratifiedGroupKFold if groups is not None else StratifiedKFold
    return kind(folds, shuffle=True, random_state=config.seed)


def train_logreg(
    config,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None = None,
    class_weight: dict[int, float] | None = None,
) -> tuple[Pipeline, dict]:
    """Standardise + LogisticRegression, C chosen by stratified k-fold CV on train (log loss).
    Rows with the same `groups` value (the views of one image) stay in one fold; `class_weight`
    weighs each row's loss by its class in every fit (the folds' log loss stays unweighted).

    Returns the pipeline refitted on all of train with the best C, and the search's record.
    """
    search = GridSearchCV(
        logreg_pipeline(1.0, config.seed, class_weight),
        {"logreg__C": list(config.cs)},
        scoring="neg_log_loss",
        n_jobs=config.jobs,
        cv=folds_of(config, y, groups),
        refit=True,
    )
    started = time.perf_counter()
    with search_backend(config.scheduler):
        search.fit(X, y, groups=groups)
    total = time.perf_counter() - started
    record = {
        "best_C": float(search.best_params_["logreg__C"]),
        "cv_log_loss": float(-search.best_score_),
        "fit_seconds": float(search.refit_time_),
        "search_seconds": total - float(search.refit_time_),
    }
    return search.best_estimator_, record


def train_logreg_streamed(config, fit, class_weight: dict[int, float] | None = None, progress: bool = False):
    """Logistic regression on fit rows larger than memory: C chosen as `train_logreg` chooses it, on
    `config.search_rows` of the images drawn at random, stratified (every class, at least a fold's
    worth each: the start model covers every class); then the same objective minimised over
    every row, out of core (`linear.streamed_logreg`), starting from the sample's model."""
    sample = fit.sample(config.search_rows, config.seed, least=config.folds).load()
    start, record = train_logreg(config, *every_view(sample), class_weight)
    started = time.perf_counter()
    model, passes = streamed_logreg(fit, record["best_C"], start, config.seed, class_weight, progress=progress)
    record |= {
        "fit_seconds": time.perf_counter() - started,
        "search_images": len(sample.labels),
        "passes": passes,
    }
    return model, record


def folded_logreg(pipeline: Pipeline) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a Dense layer equal to StandardScaler + LogisticRegression's decision function."""
    scaler, logreg = pipeline.named_steps["scale"], pipeline.named_steps["logreg"]
    kernel = (logreg.coef_ / scaler.scale_).T
    bias = logreg.intercept_ - (logreg.coef_ * (scaler.mean_ / scaler.scale_)).sum(axis=1)
    return kernel, bias


class LogReg(Head):
    name = "logreg"
    title = "logistic regression on cache"
    suffix = ".joblib"
    streams = True
    tunes_on_choice = False  # C by cross-validation on the fit rows

    def __init__(self, config=None, model: Pipeline | None = None):
        super().__init__(config)
        self.model = model

    def fit(self, fit, choose, n_classes, seed, class_weight=None, progress=False) -> LogReg:
        config = replace(self.config, seed=seed)
        if fit.streamed:  # C on a sample, then L-BFGS over passes: the in-memory fit to the solver's tolerance
            self.model, record = train_logreg_streamed(config, fit, class_weight, progress)
        else:
            self.model, record = train_logreg(config, *every_view(fit), class_weight)
        # what its optimiser saw
        self.record = record | {"streamed": fit.streamed, "class_weight": self.model.named_steps["logreg"].class_weight}
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(features)

    def save(self, path: Path) -> None:
        joblib.dump(self.model, path)

    @classmethod
    def load(cls, path: Path) -> LogReg:
        return cls(model=joblib.load(path))

    def choices(self, choose: str) -> str:
        config = self.config
        if self.record["streamed"]:
            return (
                f"C from {config.cs} by {config.folds}-fold cross-validation on {self.record['search_images']} fit "
                "images drawn at random (stratified), then fitted on every fit row streamed from the cache"
            )
        return f"C from {config.cs} by {config.folds}-fold cross-validation on the fit rows"

    def network(self, dropout: float = 0.0):
        """The Dense head's network with this model's standardisation folded into its one layer."""
        from classify.heads.network import network_from_linear  # Keras on use only

        return network_from_linear(*folded_logreg(self.model), dropout)
