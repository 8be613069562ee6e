"""A command's wall time and peak memory, measured in a process of its own.

The peak is the kernel's VmHWM of the process's own address space, read as it exits. Not
getrusage's ru_maxrss: a child started by vfork and exec inherits its parent's peak there, so
every child of a large bench process would report the bench's own size.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs `python -m MODULE ARGS` in this process, then writes its own peak RSS (kB) to REPORT.
_MEASURED = """
import runpy, sys
report, module = sys.argv[1:3]
sys.argv = [module, *sys.argv[3:]]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM:")).split()[1]
    with open(report, "w") as out:
        out.write(peak)
"""


def measured(module: str, args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `python -m module args`, run from the repository root."""
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _MEASURED, report.name, module, *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        seconds = time.perf_counter() - started
        if done.returncode:
            errors.seek(0)
            raise RuntimeError(f"python -m {module} {' '.join(args)} failed: {errors.read().decode()[-2000:]}")
        return seconds, int(report.read()) / 1024
