"""The machine the table ran on: its float32 peak, where the Keras engine rows ran, its CPU."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from extract.network import engines


def rows(bench: Bench) -> Iterator[tuple]:
    yield ("CPU float32 matmul peak", "–", f"{bench.flops / 1e9:.0f} GFLOP/s", "NumPy 2048² matmul, every core")
    yield ("device of the keras engine rows", "–", keras_device(), "engines.has_gpu()")
    yield ("CPU", "–", *cpu_model())


def cpu_model() -> tuple[str, str]:
    """The CPU's name and its vector extensions: int8's speedup over float32 depends on them (on an
    AVX2-only AMD EPYC it is about 1x; BENCHMARKS.md)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), "extensions unknown (no /proc/cpuinfo)"
    # one block per core, alike: the last one's fields stand for all
    fields = {
        key.strip(): value.strip() for key, value in (line.split(":", 1) for line in info.splitlines() if ":" in line)
    }
    name, flags = fields.get("model name", "?"), fields.get("flags", "").split()
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return name, ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in wanted)


def keras_device() -> str:
    """Where the Keras engine rows ran: they measure a GPU exactly when TensorFlow sees one."""
    if not engines.has_gpu():
        return "CPU: TensorFlow sees no GPU here, so no GPU figure was measured"
    import tensorflow as tf

    names = [
        tf.config.experimental.get_device_details(d).get("device_name", d.name)
        for d in tf.config.list_physical_devices("GPU")
    ]
    return "GPU: " + ", ".join(names)
