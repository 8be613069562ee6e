"""Fine-tuning's training step on the CPU: with and without XLA (`jit_compile`), and at several
`steps_per_execution`, on the real backbone from layer 100 up, with synthetic images (content
does not change a step's arithmetic). Each setting is timed in turn, repeat after repeat, so a
noisy machine slows them alike."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from classify.heads import network
from extract.network.backbone import FEATURE_DIM, build_backbone
from finetune.model import build_finetune_model

SETTINGS = ((False, 1), (True, 1), (False, 4), (True, 4))  # (jit_compile, steps_per_execution)


def step_seconds(
    weights: str, size: int, steps: int, repeats: int, settings=SETTINGS, batch: int = 32
) -> dict[tuple, float]:
    """{(jit_compile, steps_per_execution): median seconds per training step}, for each of `settings`."""
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch * 4, size, size, 3)).astype(np.float32)
    labels = rng.integers(0, 2, (batch * 4, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch).repeat()
    models = {}
    for jit, per_call in settings:
        keras.utils.set_random_seed(0)
        model = build_finetune_model(build_backbone(weights, size), network.build_dense(FEATURE_DIM, 2), 100)
        network.compile_dense(model, 2, 1e-5, per_call, jit_compile=jit)
        model.fit(data, steps_per_epoch=2 * per_call, epochs=1, verbose=0, shuffle=False)  # traces, compiles
        models[(jit, per_call)] = model
    seconds = {setting: [] for setting in settings}
    for _ in range(repeats):
        for setting, model in models.items():
            started = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
            seconds[setting].append((time.perf_counter() - started) / steps)
    return {setting: float(np.median(values)) for setting, values in seconds.items()}


def rows(weights: str, size: int, quick: bool) -> list[tuple]:
    """The bench table's rows: each setting's step time, and its speed against plain Keras; `quick`:
    plain Keras alone (each XLA setting compiles for most of a minute)."""
    settings = SETTINGS[:1] if quick else SETTINGS
    measured = step_seconds(weights, size, steps=4 if quick else 24, repeats=1 if quick else 3, settings=settings)
    plain = measured[(False, 1)]
    return [
        (
            f"fine-tuning step, layers 100+ (XLA {'on' if jit else 'off'}, steps_per_execution {per_call})",
            size,
            f"{seconds:.3f} s/step",
            f"{plain / seconds:.2f}× plain Keras, batch 32",
        )
        for (jit, per_call), seconds in measured.items()
    ]
