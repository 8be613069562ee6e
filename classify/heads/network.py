"""Keras heads on pooled features: build, train (the one loop the Dense and MLP heads share), and
turn outputs into class probabilities. Shared with fine-tuning, which compiles the same way."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import tensorflow as tf


def build_dense(feature_dim: int, n_classes: int, dropout: float = 0.2, hidden: int = 0) -> keras.Model:
    """Dropout then Dense(1) logit for two classes, Dense(K) softmax for more (the tutorial's head);
    `hidden` units of ReLU before it (with dropout after them: the seed notebooks' head)."""
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
    model: keras.Model,
    n_classes: int,
    learning_rate,
    steps_per_execution: int = 1,
    jit_compile="auto",
    optimizer=keras.optimizers.RMSprop,
) -> None:
    """`optimizer` (RMSprop, the tutorial's) at a rate or a schedule, and the loss that matches the
    head's output; shared with fine-tuning.

    `steps_per_execution` runs several batches per call into the backend: the same updates,
    less Python overhead per step, which dominates a head on 1280-d features. `jit_compile`:
    Keras's "auto" is XLA on an accelerator only."""
    loss, accuracy = loss_and_accuracy(n_classes)
    model.compile(
        optimizer=optimizer(learning_rate),
        loss=loss,
        metrics=[accuracy],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )


def targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return labels.astype(np.float32 if n_classes == 2 else np.int64)


class EagerValidation(keras.callbacks.Callback):
    """`val_loss` and `val_accuracy` after each epoch from direct forward passes on the images as
    they are, a block at a time.

    Keras's own validation traces a second graph function, ~0.4 s or a third of the whole fit
    on cached features (BENCHMARKS.md); one call on the validation features takes milliseconds.
    Runs before EarlyStopping and History, which read the same logs."""

    def __init__(self, validation, n_classes: int):
        super().__init__()
        self.validation, self.n_classes = validation, n_classes
        self.loss, self.accuracy = loss_and_accuracy(n_classes)

    def on_epoch_end(self, epoch, logs=None):
        self.accuracy.reset_state()
        total, count = 0.0, 0
        for features, labels in self.validation.blocks():
            outputs = self.model(features[:, 0].astype(np.float32), training=False)
            labels = targets(labels, self.n_classes)
            self.accuracy.update_state(labels, outputs)
            total, count = total + float(self.loss(labels, outputs)) * len(labels), count + len(labels)
        logs["val_loss"] = total / count
        logs["val_accuracy"] = float(self.accuracy.result())


def training_batches(count: int, batch: int) -> tuple[int, bool]:
    """(batch size, whether the last partial batch is left out) of a training stream of `count`
    rows: for the Keras heads and for fine-tuning.

    RMSprop and Adam scale each step by the gradients' running size, not by the batch's: a last
    batch of one image (1,633 fit images in 32s) got a full step from one image's gradient, right
    before the epoch's check on the choice rows. On pbc_sample that step alone dropped the choice
    rows' accuracy from 91% to 79% (issue 23's spike in epochs 1 and 2). So a last batch of under
    half a batch is left out, a different few rows every epoch as the order changes; a larger one
    is kept, so a small fit set loses no more than that. Fewer rows than a batch: one batch of
    them all."""
    size = min(batch, count)
    return size, 2 * (count % size) < size


def steps_per_epoch(count: int, batch: int) -> int:
    """A training stream's batches per epoch (`training_batches`)."""
    size, drop = training_batches(count, batch)
    return count // size if drop else -(-count // size)


def batches(rows, config, n_classes: int) -> tf.data.Dataset:
    """Batches (`training_batches`) of every view of the rows, a block at a time in a new random
    order each epoch (`blocks(seed)`: rows in memory are one block, shuffled whole; rows streamed
    from the cache are blocks of spans in random order, mixed within each), so memory holds a
    block or two."""
    epochs = itertools.count()

    def rows_of_epoch():
        seed = (config.seed, next(epochs))
        # a stream of its own: rows in memory are one block already shuffled with `seed`, and the same
        # permutation again gives its square, not a uniform order (the last rows left out twice as often)
        mixed = np.random.default_rng((*seed, 1))
        for features, labels in rows.blocks(seed):
            order = mixed.permutation(len(features) * rows.views)  # an image's views apart
            yield features.reshape(-1, rows.dim)[order], targets(np.repeat(labels, rows.views)[order], n_classes)

    signature = (
        tf.TensorSpec((None, rows.dim), tf.float32),
        tf.TensorSpec((None,), tf.float32 if n_classes == 2 else tf.int64),
    )
    size, drop = training_batches(len(rows) * rows.views, config.batch)
    return (
        tf.data.Dataset.from_generator(rows_of_epoch, output_signature=signature)
        .unbatch()
        .batch(size, drop_remainder=drop)
        # a known length: Keras then ends each epoch on time instead of warning that data ran out
        .apply(tf.data.experimental.assert_cardinality(steps_per_epoch(len(rows) * rows.views, config.batch)))
        .prefetch(tf.data.AUTOTUNE)
    )


def train_dense(
    config,
    fit,
    choose,
    n_classes: int,
    hidden: int = 0,
    class_weight: dict[int, float] | None = None,
    verbose: int = 0,
):
    """Fit one Keras head with early stopping on the choice rows' loss, keeping the best epoch.
    Returns (model, history, learning rate, its record).

    `config.dense_recipe`: `tutorial` trains with RMSprop at `learning_rate` for at most `epochs`
    (the tutorial's); `converged` tries Adam at each of `dense_rates` for at most `max_epochs`,
    each stopped `converged_patience` epochs after its best, and keeps the rate whose best epoch
    had the lowest choice loss. `class_weight` weighs each fit row's loss by its class (Keras's
    `class_weight`); the choice rows' loss stays unweighted."""
    if config.dense_recipe == "tutorial":
        plans = [(keras.optimizers.RMSprop, config.learning_rate, config.epochs, config.patience)]
    else:
        plans = [(keras.optimizers.Adam, rate, config.max_epochs, config.converged_patience) for rate in config.rates]
    tried = []
    for optimizer, rate, epochs, patience in plans:
        keras.utils.set_random_seed(config.seed)
        model = build_dense(fit.dim, n_classes, config.dropout, hidden)
        compile_dense(model, n_classes, rate, steps_per_execution=64, optimizer=optimizer)
        callbacks = [
            EagerValidation(choose, n_classes),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        ]
        fitted = model.fit(
            batches(fit, config, n_classes),
            epochs=epochs,
            shuffle=False,
            callbacks=callbacks,
            verbose=verbose,
            class_weight=class_weight,
        )
        history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
        tried.append((min(history["val_loss"]), rate, model, history))
    _, rate, model, history = min(tried, key=lambda t: t[0])
    record = {
        "recipe": config.dense_recipe,
        "learning_rate": rate,
        "rates": {f"{r:g}": loss for loss, r, _, _ in tried},  # each rate's best choice loss
        "epochs_run": len(history["loss"]),
        "best_epoch": 1 + int(np.argmin(history["val_loss"])),
    }
    return model, history, record


def probabilities_of_outputs(outputs) -> np.ndarray:
    """(N, K) class probabilities from a Dense head's output (a logit for two classes, else softmax)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-outputs[:, 0]))
        return np.stack([1.0 - positive, positive], axis=1)
    return outputs / outputs.sum(axis=1, keepdims=True)  # float32 softmax sums to 1 only roughly


def dense_probabilities(model: keras.Model, features: np.ndarray) -> np.ndarray:
    # a direct call, not model.predict, which traces a graph function first: slower than the pass itself
    return probabilities_of_outputs(model(features.astype(np.float32), training=False))


def softmax_layer(kernel: np.ndarray, bias: np.ndarray) -> keras.layers.Dense:
    """A Dense softmax over K classes; one binary logit z becomes softmax([0, z]) = [1 - σ(z), σ(z)]."""
    if kernel.shape[1] == 1:
        kernel = np.concatenate([np.zeros_like(kernel), kernel], axis=1)
        bias = np.concatenate([np.zeros_like(bias), bias])
    layer = keras.layers.Dense(kernel.shape[1], activation="softmax", name="probabilities")
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return layer


def probabilities_model(network: keras.Model) -> keras.Model:
    """A head network (logit or softmax last layer) as features -> (N, K) probabilities."""
    inputs = x = keras.Input((network.input_shape[-1],), name="features")
    for layer in network.layers[:-1]:
        x = layer(x, training=False)
    return keras.Model(inputs, softmax_layer(*network.layers[-1].get_weights())(x), name="head")


def network_from_linear(kernel: np.ndarray, bias: np.ndarray, dropout: float) -> keras.Model:
    """A linear head (D, logits) as the Dense head's network: dropout, then one Dense layer."""
    # in float32, as a saved Dense head loads, whatever the global policy (mixed_float16 on a GPU)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        head = build_dense(kernel.shape[0], max(2, kernel.shape[1]), dropout=dropout)
    finally:
        keras.config.set_dtype_policy(policy)
    head.layers[-1].set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return head
