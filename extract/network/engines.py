"""Engines that run the backbone over batches: Keras (any backend, GPU) or TFLite/XNNPACK (CPU).

On this project's 2-core CPU the TFLite interpreter with XNNPACK runs MobileNetV2 (the default backbone) about 2-3×
faster than TensorFlow's graph and agrees with it to ~4e-5 (BENCHMARKS.md); a GPU runs the
Keras model. The TFLite file is converted once from the same Keras model and kept, keyed
by the backbone, the weights' hash, the image size and the feature blocks (its one output is every block,
concatenated: no output order to map). `PRECISION=int8` keeps beside it a full-integer model
(weights and activations int8, input and output float), calibrated on the user's own images
(`extract.network.calibration`) and keyed by the calibration too: XNNPACK runs it up to about twice as fast,
where the CPU's 8-bit arithmetic is fast (on an AVX2-only AMD EPYC, no faster: BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import keras
import numpy as np

from cache import atomic_path
from extract.network.feature_source import source_of_model
from extract.reading.hashes import digest
from workflow.errors import WorkflowError

ENGINES = ("auto", "keras", "tflite")


class EngineError(WorkflowError):
    """An engine cannot be made as asked."""


def has_gpu() -> bool:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def runs_on_gpu(engine: str) -> bool:
    """Whether the named engine leaves the CPU free for decoding (Keras on a GPU)."""
    return engine == "keras" and has_gpu()


def resolve(engine: str) -> str:
    """`auto` is Keras on a GPU, TFLite on a CPU."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if engine == "auto":
        return "keras" if has_gpu() else "tflite"
    return engine


class KerasEngine:
    name = "keras"

    def __init__(self, model: keras.Model):
        self.model = model

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(images), dtype=np.float32)


class TFLiteEngine:
    name = "tflite"

    def __init__(self, model_path: str | os.PathLike, batch_size: int, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.batch_size = batch_size
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=threads or os.cpu_count())
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        size = self._input["shape"][1:]
        self._interpreter.resize_tensor_input(self._input["index"], [batch_size, *size])
        self._interpreter.allocate_tensors()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        count = len(images)
        if count < self.batch_size:  # a fixed shape avoids reallocating the interpreter
            padding = np.zeros((self.batch_size - count, *images.shape[1:]), dtype=images.dtype)
            images = np.concatenate([images, padding])
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(images, dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"])[:count].copy()


def tflite_file(
    model: keras.Model, weights_hash: str, image_size: int, directory: str | os.PathLike, calibration=None
) -> Path:
    """The model converted to a TFLite file, converted once and then reused: float32, or int8 with
    `calibration` (an `extract.network.calibration.Calibration`)."""
    source = source_of_model(model)
    name = f"{source.backbone}-{weights_hash[:16]}-{image_size}"
    if source.layers != source.network.sets["last"]:  # the last layer alone keeps the name it had before feature blocks
        name += f"-blocks-{digest(source.layers)[:16]}"
    if calibration is not None:
        name += f"-int8-{calibration.digest[:16]}"
    path = Path(directory) / f"{name}.tflite"
    if not path.exists():
        if calibration is not None and calibration.split is None:
            raise EngineError(f"the int8 engine {path} is missing: run `make features` again to calibrate it")
        with atomic_path(path) as tmp:
            tmp.write_bytes(to_tflite(model, calibration.samples if calibration is not None else None))
    return path


def to_tflite(model: keras.Model, representative=None) -> bytes:
    """The model as a TFLite flatbuffer (TensorFlow's converter): float32, or, given a representative
    dataset (a callable yielding [one image]), full integer with float input and output, so that
    callers do not change."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]  # every op, or fail
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # the converter prints every signature tensor, and warns that a float input has no statistics
        warnings.simplefilter("ignore", UserWarning)
        return converter.convert()


def make_engine(
    name: str,
    model: keras.Model,
    weights_hash: str,
    image_size: int,
    batch_size: int,
    directory: str | os.PathLike,
    threads: int | None = None,
    calibration=None,
):
    """`threads`: the TFLite interpreter's (default every core; a cluster worker's own cores).
    `calibration`: an int8 TFLite engine calibrated so (`extract.network.calibration`)."""
    if name == "keras":
        if calibration is not None:
            raise EngineError("PRECISION=int8 runs on the TFLite engine: the Keras engine stays float32")
        return KerasEngine(model)
    if name == "tflite":
        path = tflite_file(model, weights_hash, image_size, directory, calibration)
        return TFLiteEngine(path, batch_size, threads)
    raise ValueError(f"unknown engine {name!r}")
