"""Files that are either whole or absent: write under a temporary name, then rename."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success rename it to `path`, else delete it.

    The temporary name keeps the final suffix, since some writers (Keras, NumPy) choose the
    format from it, and names the writing process, so that the temporary files of a killed
    writer are recognised and removed by the next write of the same file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale(path: Path) -> None:
    """Delete the temporary files beside `path` left by writers that no longer run."""
    for tmp in path.parent.glob(f"{TMP_PREFIX}*-{path.name}"):
        pid = tmp.name[len(TMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8; a file name that is not valid UTF-8 is written with its own bytes (surrogateescape)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
