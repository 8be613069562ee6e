"""The two heads, as pure functions: build, train, and turn features into class probabilities."""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager

import joblib
import keras
import numpy as np
import tensorflow as tf
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline

import cache
from classify.config import HeadConfig
from classify.linear import fold_threads, logreg_pipeline, streamed_logreg
from classify.part import Part, blocks_of, every_view
from workflow.errors import WorkflowError


class HeadError(WorkflowError):
    """The data cannot train a head (one class only, say)."""


def check_trainable(labels: np.ndarray, class_names: list[str]) -> None:
    """Every class the cache names has training images (else its probabilities would mean nothing)."""
    present = np.unique(labels)
    if len(present) < 2:
        raise HeadError(f"the train split has only one class ({present.tolist()}); a classifier needs two or more")
    if present.max() >= len(class_names):
        raise HeadError(f"labels go up to {present.max()} but the cache names {len(class_names)} classes")
    missing = [name for label, name in enumerate(class_names) if label not in present]
    if missing:
        raise HeadError(
            f"class {', '.join(missing)} has no training images: add some to its train folder, or "
            "remove the class folder everywhere, then run `make features`"
        )


# --- Keras Dense head ----------------------------------------------------------------------


def build_dense(feature_dim: int, n_classes: int, dropout: float = 0.2, hidden: int = 0) -> keras.Model:
    """Dropout then Dense(1) logit for two classes, Dense(K) softmax for more (the tutorial's head)."""
    layers = [keras.Input((feature_dim,))]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    if hidden:
        layers += [keras.layers.Dense(hidden, activation="relu"), keras.layers.Dropout(dropout)]
    layers.append(keras.layers.Dense(1) if n_classes == 2 else keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers, name="dense_head")


def loss_and_accuracy(n_classes: int) -> tuple[keras.losses.Loss, keras.metrics.Metric]:
    """A logit with binary cross-entropy for two classes, softmax with sparse cross-entropy for more."""
    if n_classes == 2:
        return (
            keras.losses.BinaryCrossentropy(from_logits=True),
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
        )
    return keras.losses.SparseCategoricalCrossentropy(), keras.metrics.SparseCategoricalAccuracy(name="accuracy")


def compile_dense(
    model: keras.Model, n_classes: int, learning_rate, steps_per_execution: int = 1, jit_compile="auto"
) -> None:
    """RMSprop (at a rate or a schedule) and the loss that matches the head's output; shared with fine-tuning.

    `steps_per_execution` runs several batches per call into the backend: the same updates,
    less Python overhead per step, which dominates a head on 1280-d features. `jit_compile`:
    Keras's "auto" is XLA on an accelerator only."""
    loss, accuracy = loss_and_accuracy(n_classes)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate),
        loss=loss,
        metrics=[accuracy],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )


def targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return labels.astype(np.float32 if n_classes == 2 else np.int64)


class EagerValidation(keras.callbacks.Callback):
    """`val_loss` and `val_accuracy` after each epoch from direct forward passes on the images as
    they are, a block at a time from a `Part`, or at once from rows in memory.

    Keras's own validation traces a second graph function, ~0.4 s or a third of the whole fit
    on cached features (BENCHMARKS.md); one call on the validation features takes milliseconds.
    Runs before EarlyStopping and History, which read the same logs."""

    def __init__(self, validation: Part | cache.SplitData, n_classes: int):
        super().__init__()
        self.validation, self.n_classes = validation, n_classes
        self.loss, self.accuracy = loss_and_accuracy(n_classes)

    def on_epoch_end(self, epoch, logs=None):
        self.accuracy.reset_state()
        total, count = 0.0, 0
        for features, labels in blocks_of(self.validation):
            outputs = self.model(features[:, 0].astype(np.float32), training=False)
            labels = targets(labels, self.n_classes)
            self.accuracy.update_state(labels, outputs)
            total, count = total + float(self.loss(labels, outputs)) * len(labels), count + len(labels)
        logs["val_loss"] = total / count
        logs["val_accuracy"] = float(self.accuracy.result())


def memory_batches(X: np.ndarray, y: np.ndarray, config: HeadConfig, n_classes: int) -> tf.data.Dataset:
    """One tf.data pipeline for every epoch, reshuffled each time: from NumPy arrays Keras builds
    its pipeline again each epoch, about a quarter of the whole fit on cached features."""
    return (
        tf.data.Dataset.from_tensor_slices((X.astype(np.float32), targets(y, n_classes)))
        .shuffle(len(X), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch)
        .prefetch(tf.data.AUTOTUNE)
    )


def streamed_batches(part: Part, config: HeadConfig, n_classes: int) -> tf.data.Dataset:
    """Batches of every view of the part's rows read from the cache a block at a time, in a new
    random order each epoch (`Part.blocks`), so memory holds a block or two, never the split."""
    epochs = itertools.count()

    def rows():
        seed = (config.seed, next(epochs))
        mixed = np.random.default_rng(seed)
        for features, labels in part.blocks(seed):
            order = mixed.permutation(len(features) * part.views)  # an image's views apart
            yield features.reshape(-1, part.dim)[order], targets(np.repeat(labels, part.views)[order], n_classes)

    signature = (
        tf.TensorSpec((None, part.dim), tf.float32),
        tf.TensorSpec((None,), tf.float32 if n_classes == 2 else tf.int64),
    )
    return (
        tf.data.Dataset.from_generator(rows, output_signature=signature)
        .unbatch()
        .batch(config.batch)
        # a known length: Keras then ends each epoch on time instead of warning that data ran out
        .apply(tf.data.experimental.assert_cardinality(-(-len(part) * part.views // config.batch)))
        .prefetch(tf.data.AUTOTUNE)
    )


def train_dense(
    config: HeadConfig,
    train: tuple[np.ndarray, np.ndarray] | Part,
    validation: tuple[np.ndarray, np.ndarray] | Part | cache.SplitData | None,
    n_classes: int,
    class_weight: dict[int, float] | None = None,
    verbose: int = 0,
):
    """Fit with early stopping on validation loss, keeping the best epoch. Returns (model, history).
    `train` is (features, labels) in memory, or a `Part` of the cache, streamed (every view);
    `validation`, (features, labels) in memory, or rows of the cache (their images as they are).
    `class_weight` weighs each training row's loss by its class (Keras's `class_weight`); the
    choice rows' loss stays unweighted."""
    if isinstance(validation, tuple):
        validation = cache.SplitData(validation[0][:, None], validation[1], [])
    keras.utils.set_random_seed(config.seed)
    streamed = isinstance(train, Part)
    model = build_dense(train.dim if streamed else train[0].shape[1], n_classes, config.dropout, config.hidden)
    compile_dense(model, n_classes, config.learning_rate, steps_per_execution=64)
    callbacks = []
    if validation is not None:
        callbacks += [
            EagerValidation(validation, n_classes),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True),
        ]
    batches = streamed_batches(train, config, n_classes) if streamed else memory_batches(*train, config, n_classes)
    history = model.fit(
        batches, epochs=config.epochs, shuffle=False, callbacks=callbacks, verbose=verbose, class_weight=class_weight
    )
    return model, {key: [float(v) for v in values] for key, values in history.history.items()}


def dense_probabilities(model: keras.Model, features: np.ndarray) -> np.ndarray:
    # a direct call, not model.predict, which traces a graph function first: slower than the pass itself
    return probabilities_of_outputs(model(features.astype(np.float32), training=False))


def probabilities_of_outputs(outputs) -> np.ndarray:
    """(N, K) class probabilities from a Dense head's output (a logit for two classes, else softmax)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-outputs[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    return outputs / outputs.sum(axis=1, keepdims=True)  # float32 softmax sums to 1 only roughly


# --- scikit-learn logistic regression ------------------------------------------------------


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


def folds_of(config: HeadConfig, y: np.ndarray, groups: np.ndarray | None):
    """Stratified k-fold splits; with `groups` (each row's image), an image's views in one fold."""
    images = np.unique(groups, return_index=True)[1] if groups is not None else np.arange(len(y))
    folds = min(config.folds, int(np.bincount(y[images]).min()))
    if folds < 2:
        raise HeadError("every class needs at least two training examples for cross-validation")
    kind = StratifiedGroupKFold if groups is not None else StratifiedKFold
    return kind(folds, shuffle=True, random_state=config.seed)


def train_logreg(
    config: HeadConfig,
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


def train_logreg_streamed(
    config: HeadConfig, fit: Part, class_weight: dict[int, float] | None = None, progress: bool = False
) -> tuple[Pipeline, dict]:
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


def logreg_probabilities(model: Pipeline, features: np.ndarray) -> np.ndarray:
    return model.predict_proba(features)
