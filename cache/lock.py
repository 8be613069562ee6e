"""One writer per output folder: an advisory lock (`fcntl.flock`) on a lock file in it.

A second run that would write the same folder does not wait silently and does not corrupt the
first one's work: it stops at once with one line naming the process that holds the lock. The
lock goes with the process, however it ends (even `kill -9`), so a stale lock never blocks.
"""

from __future__ import annotations

import fcntl
import functools
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from workflow.errors import WorkflowError


class BusyError(WorkflowError):
    """Another run holds the output folder's lock."""


def holding_lock(what: str):
    """Decorator: run `function(config, ...)` holding the lock of `config.paths`'s folder."""

    def wrap(function):
        @functools.wraps(function)
        def locked(config, *args, **kwargs):
            with exclusive(config.paths.lock, what):
                return function(config, *args, **kwargs)

        return locked

    return wrap


@contextmanager
def exclusive(lock_file: Path, what: str):
    """Hold `lock_file`'s lock for the block; `BusyError` at once if another process holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BusyError(
                f"{lock_file.parent} is being written by {holder}: wait for it to finish, or use another OUT"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{what} (pid {os.getpid()} on {socket.gethostname()})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
