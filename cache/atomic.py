"""Files that are either whole or absent, and folders replaced as a whole: write under a
temporary name, then rename."""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path

from workflow.paths import Paths

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


@contextmanager
def staged(paths: Paths, stage: str):
    """Replace a stage's folder (`heads`, `finetune`, ...) as one set of files.

    Yields `paths` with the stage's files redirected to a new version of the folder, which
    starts as hard links to the current files (no copying; writers replace files, never edit
    them). On success the stage's symbolic link is pointed at the new version in one rename, so
    a reader sees the old set or the new one, never a mix; on failure the new version is
    deleted and the old set stays. The caller holds the output folder's lock.
    """
    link = paths.stage(stage)
    current = link.resolve() if link.exists() else None
    _remove_versions(link, keep=current)  # of runs killed before their swap
    version = link.with_name(f".{link.name}-{secrets.token_hex(4)}")
    if current is not None:
        shutil.copytree(current, version, copy_function=os.link, symlinks=True)
    else:
        version.mkdir(parents=True)
    try:
        yield paths.writing(stage, version)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    if link.is_dir() and not link.is_symlink():  # a plain folder from an older version: moved aside once
        os.rename(link, link.with_name(f".{link.name}-{secrets.token_hex(4)}"))
    tmp = link.with_name(f"{TMP_PREFIX}{os.getpid()}-{link.name}")
    tmp.unlink(missing_ok=True)
    os.symlink(version.name, tmp)  # relative: the output folder can be moved or copied whole
    os.replace(tmp, link)
    _remove_versions(link, keep=version)


def _remove_versions(link: Path, keep: Path | None) -> None:
    for version in link.parent.glob(f".{link.name}-*"):
        if version != keep:
            shutil.rmtree(version, ignore_errors=True)
