"""What native code writes straight to file descriptor 2, where Python cannot see it.

libjpeg, inside TensorFlow's decoders, reports a damaged JPEG that it could still decode
("Corrupt JPEG data: premature end of data segment") on stderr, from a decoding thread,
naming no file. `captured()` sends descriptor 2 to a temporary file for a block, so that
extraction notices such warnings as they come and then finds the files behind them one at a
time (`images.decode_error`, in the shard that warned). Python's own `sys.stderr` (progress bars, errors)
keeps writing where it did, and what was captured goes on to the old descriptor 2 afterwards:
nothing is swallowed.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

# libjpeg's warnings (its JWRN_* messages), told apart from other libraries' log lines
LIBJPEG_WARNING = re.compile(r"JPEG|^Warning: |marker|Huffman|SOS parameters|progression|scanlines")


class Captured:
    def __init__(self, descriptor: int):
        self._descriptor = descriptor
        self._read = 0

    def new_lines(self) -> list[str]:
        """The lines written since the last call."""
        data = b""
        while chunk := os.pread(self._descriptor, 1 << 16, self._read + len(data)):
            data += chunk
        self._read += len(data)
        return data.decode(errors="replace").splitlines()

    def libjpeg_warnings(self) -> list[str]:
        """The new lines that are libjpeg's warnings."""
        return [line for line in self.new_lines() if LIBJPEG_WARNING.search(line)]


@contextmanager
def captured() -> Iterator[Captured]:
    sys.stderr.flush()
    python_stderr = sys.stderr
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        # append-only: writers on descriptor 2 always add at the end, whatever has been read
        fcntl.fcntl(log.fileno(), fcntl.F_SETFL, fcntl.fcntl(log.fileno(), fcntl.F_GETFL) | os.O_APPEND)
        os.dup2(log.fileno(), 2)
        if _writes_to_descriptor_2(python_stderr):
            sys.stderr = io.TextIOWrapper(
                os.fdopen(os.dup(saved), "wb", buffering=0), errors="backslashreplace", write_through=True
            )
        try:
            yield Captured(log.fileno())
        finally:
            if sys.stderr is not python_stderr:
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            with os.fdopen(os.dup(2), "wb") as stderr:
                shutil.copyfileobj(log, stderr)


def _writes_to_descriptor_2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False  # captured by pytest or a notebook: not on descriptor 2
