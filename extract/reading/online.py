"""Fail in seconds, not minutes, when a download is needed and there is no network.

TFDS retries a dead connection for minutes and Keras waits on its socket; one short probe of
the host both download from first says at once whether trying makes sense.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from workflow.errors import WorkflowError

# Keras's ImageNet weights live here, and TFDS looks here first for prepared datasets.
PROBE = ("storage.googleapis.com", 443)
TIMEOUT_S = 3.0


class OfflineError(WorkflowError):
    """A download is needed and the network cannot be reached."""


def reachable(host: str, port: int, timeout: float = TIMEOUT_S) -> bool:
    """Whether a TCP connection opens within `timeout` (name lookup included, which
    `socket.create_connection` alone cannot bound)."""

    def connect() -> None:
        socket.create_connection((host, port), timeout=timeout).close()

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(connect).result(timeout=timeout)
        return True
    except (OSError, FutureTimeout):
        return False
    finally:
        pool.shutdown(wait=False)


def require_network(what: str, instead: str) -> None:
    """Raise `OfflineError` in one line if `what` would need a download that cannot happen."""
    host, port = PROBE
    if not reachable(host, port):
        raise OfflineError(f"{what} needs a download, but {host} cannot be reached (offline?): {instead}")
