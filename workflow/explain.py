"""One actionable line for the failures a user causes or fixes outside the workflow: a full
disk, a read-only or forbidden output folder, memory, a Dask scheduler out of reach. The
command line prints it instead of "unexpected <exception class>".

Exceptions arrive from the OS, h5py (an OSError whose text carries the C library's errno),
TensorFlow and Dask; each is recognised by its errno or its class name, so this module
imports none of them.
"""

from __future__ import annotations

import errno
import re

# h5py: "Unable to synchronously create file (unable to open file: name = '/x.h5', errno = 13, ...)"
H5_ERRNO = re.compile(r"errno = (\d+)")
H5_NAME = re.compile(r"name = '([^']*)'")
SCHEDULER = re.compile(r"(?:connect to|Timed out trying to connect to) '?((?:tcp|tls|inproc|ucx)://[^\s':]+:\d+)")


def explain(err: BaseException) -> str | None:
    """The line to print for `err`, or None where it is no failure of the user's surroundings."""
    for cause in _chain(err):
        message = _explain_one(cause)
        if message:
            return message
    return None


def _chain(err: BaseException):
    """`err`, then what caused it (a library's wrapper hides the OS's error inside)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _explain_one(err: BaseException) -> str | None:
    name = type(err).__name__
    if isinstance(err, MemoryError) or name == "ResourceExhaustedError":  # TensorFlow's out of memory
        return "out of memory: lower BATCH= (or MEMORY_GB= for the heads), or stop what else is running"
    if name in ("CommClosedError", "StreamClosedError") or (isinstance(err, OSError) and SCHEDULER.search(str(err))):
        address = SCHEDULER.search(str(err))
        where = f" at {address.group(1)}" if address else ""
        return (
            f"lost the connection to the Dask scheduler{where}: check that it runs and that SCHEDULER= is its "
            "address, then run again (finished work is kept)"
        )
    if not isinstance(err, OSError):
        return None
    code = err.errno
    if code is None and (found := H5_ERRNO.search(str(err))):
        code = int(found.group(1))
    path = err.filename or (H5_NAME.search(str(err)) or [None, None])[1]
    where = f" {path}" if path else ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left to write{where}: free some disk space, or set OUT= to a folder on another disk"
    if code == errno.EROFS:
        return f"cannot write{where}: its file system is read-only; set OUT= to a writable folder"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied for{where}: make it readable (data, weights) or writable (OUT=) for this user"
    if code == errno.ENOTDIR:
        return f"{path or 'a path'} runs through a file where a folder should be: check OUT= and DATA="
    if code == errno.EMFILE:
        return "too many open files: raise the limit (`ulimit -n 4096`) and run again"
    return None
