"""Each image file's identity by its content: a BLAKE2b of its bytes, kept in an index beside the
cache (`Paths.content_hashes`).

As in git and DVC, a file whose size, modification time and inode are unchanged keeps its
recorded hash; any other file is read and hashed again. So `touch` costs one file's hash and
changes nothing, and a no-op stays fast. An edit that kept the size and the modification time
goes unseen unless `verify` hashes every file again (VERIFY=1: one read of the whole dataset).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cache

UNREADABLE = "unreadable"  # the hash of a file that cannot be read (a broken link): skipped later


def digest(value) -> str:
    """sha256 of a JSON-able value, keys sorted: what names a listing, a setting or a sample."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


class ContentHashes:
    def __init__(self, index: Path | None = None, verify: bool = False):
        self.index = index
        self.verify = verify
        self._recorded = self._load()
        self._seen: dict[str, list] = {}

    def _load(self) -> dict:
        try:
            return json.loads(self.index.read_text()) if self.index else {}
        except (OSError, ValueError):
            return {}  # absent or unreadable: every file is hashed again

    def of(self, path: str | os.PathLike) -> str:
        """The file's content hash, from the index where its size, mtime and inode are unchanged."""
        key = str(path)
        if key in self._seen:
            return self._seen[key][3]
        try:
            stat = os.stat(path)
        except OSError:
            return UNREADABLE
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        recorded = self._recorded.get(key)
        if recorded and recorded[:3] == stamp and not self.verify:
            digest = recorded[3]
        else:
            digest = _blake2b(path)
        self._seen[key] = [*stamp, digest]
        return digest

    def save(self) -> None:
        """Keep what this run saw (files gone since are dropped), where anything changed."""
        if self.index and self._seen != self._recorded:
            cache.write_text(self.index, json.dumps(self._seen))


def _blake2b(path: str | os.PathLike) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
    except OSError:
        return UNREADABLE
