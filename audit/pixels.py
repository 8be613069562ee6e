"""Pixel fingerprints of a cache's images: a small grey thumbnail of each, kept beside the cache
(`Paths.pixels`) under the image file's content hash, so that a file is decoded once, at the first
audit that needs it, and again only when its bytes change. The near-duplicate test confirms the
pairs that look alike to the network on them (`audit.find`).

The correlation of two such thumbnails (each centred and scaled) is unchanged by a change of
brightness or contrast, barely moved by re-encoding, resizing or a small crop, and the better of an
image and its mirror counts: the edits that make a copy. Distinct images of one look (two cells of
a class, two fields of one stain) share colours and textures, not the same picture, and correlate
far less.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from cache.atomic import atomic_path
from extract.reading.thumbnails import Thumbnails

SIDE = 16  # pixels a side: fine enough to tell two pictures apart, coarse enough to forgive a crop
BLOCK = 16384  # pairs compared at a time


def fingerprint(image: Image.Image, side: int = SIDE) -> np.ndarray:
    """(side * side,) uint8: the image in grey, squeezed to side × side."""
    image.draft("L", (4 * side, 4 * side))  # a JPEG decodes at 1/2 to 1/8 scale: several times faster
    return np.asarray(image.convert("L").resize((side, side), Image.Resampling.BOX), dtype=np.uint8).ravel()


def standardised(grey: np.ndarray) -> np.ndarray:
    """(N, SIDE * SIDE) float32, each row centred and of unit norm (zero where it is flat): the
    dot product of two rows is their correlation."""
    rows = grey.astype(np.float32)
    rows -= rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def correlation(rows: np.ndarray, first: np.ndarray, second: np.ndarray, side: int = SIDE) -> np.ndarray:
    """(P,) the correlation of each pair (rows[first[p]], rows[second[p]]) of `standardised` rows,
    the better of the second as it is and mirrored left to right; BLOCK pairs at a time, so memory
    stays small whatever the number of pairs."""
    out = np.empty(len(first), np.float32)
    for start in range(0, len(first), BLOCK):
        a, b = rows[first[start : start + BLOCK]], rows[second[start : start + BLOCK]]
        mirrored = b.reshape(-1, side, side)[:, :, ::-1].reshape(b.shape)
        out[start : start + BLOCK] = np.maximum((a * b).sum(axis=1), (a * mirrored).sum(axis=1))
    return out


def keys_of(ids: list[str], contents: list[str]) -> list[str]:
    """Each image's key: its file's content hash, or its id where the cache has none (TFDS)."""
    return [content or f"id:{item}" for item, content in zip(ids, contents, strict=True)]


class PixelStore:
    """The fingerprints kept for one cache: {key: (SIDE * SIDE,) uint8}; an unreadable image has none."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with np.load(path) as kept:
                self._kept = dict(zip(kept["keys"].tolist(), kept["grey"], strict=True))
        except (OSError, ValueError, KeyError):
            self._kept = {}  # absent or unreadable: made again
        self._changed = False

    def fingerprints(self, meta: dict, out: Path, ids: list[str], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """((N, SIDE * SIDE) uint8, (N,) bool known) for the images `ids`; those not kept yet are
        read through the cache's source (`meta`: its `cache.info`, `out` its folder) and kept. A cache
        with no source (generated features) has no pixels."""
        missing = [(item, key) for item, key in zip(ids, keys, strict=True) if key not in self._kept]
        if missing and "extract_config" in meta:
            source = Thumbnails(meta, out)
            for item, key in missing:
                image = source.image(item)
                try:
                    self._kept[key] = fingerprint(image) if image is not None else None
                except (OSError, ValueError):  # a truncated file opens, then fails to decode
                    self._kept[key] = None
            self._changed = True
        found = [self._kept.get(key) for key in keys]
        known = np.array([grey is not None for grey in found], dtype=bool)
        grey = np.zeros((len(keys), SIDE * SIDE), dtype=np.uint8)
        if known.any():
            grey[known] = np.stack([item for item in found if item is not None])
        return grey, known

    def save(self) -> None:
        """Keep what is known, where anything was added (unreadable images are tried again next time)."""
        if not self._changed:
            return
        known = {key: grey for key, grey in self._kept.items() if grey is not None}
        buffer = io.BytesIO()
        np.savez(
            buffer,
            keys=np.array(list(known), dtype=str),
            grey=np.stack(list(known.values())) if known else np.zeros((0, SIDE * SIDE), np.uint8),
        )
        with atomic_path(self.path) as tmp:
            tmp.write_bytes(buffer.getvalue())
