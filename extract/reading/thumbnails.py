"""Small JPEG pictures of a cache's images, by id, for the pages people look at (the report's
mistakes, the audit's findings). Read through the cache's own source: a folder's files, or
TFDS's records."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from extract.reading.hashes import ContentHashes
from extract.reading.sources import open_source
from workflow.paths import Paths

THUMBNAIL = 128  # pixels, longer side


class Thumbnails:
    def __init__(self, meta: dict, out: Path):
        """`meta` is the cache's `cache.info`; `out` its output folder."""
        settings = meta["extract_config"]
        hashes = ContentHashes(Paths(out).content_hashes)  # read only: spares hashing unchanged files
        source = open_source(meta["dataset"], settings["limit"], settings["tfds_data_dir"], hashes)
        # ids are unique across splits: a path below the data folder, or a TFDS file name
        self._places = {item: (split, i) for split in source.splits for i, item in enumerate(split.ids)}

    def image(self, image_id: str) -> Image.Image | None:
        """The image as it is stored (not yet decoded: a caller may `draft` a smaller JPEG decode);
        None where it is gone or unreadable."""
        try:
            split, position = self._places[image_id]
            return Image.open(io.BytesIO(split.read(position)))
        except (OSError, ValueError, KeyError):
            return None

    def jpeg(self, image_id: str) -> bytes:
        """The image as a JPEG at most THUMBNAIL pixels a side; grey where it is gone or unreadable."""
        image = self.image(image_id)
        try:
            image = image.convert("RGB") if image is not None else _grey()
        except (OSError, ValueError):  # a truncated file opens, then fails to decode
            image = _grey()
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()


def _grey() -> Image.Image:
    return Image.new("RGB", (THUMBNAIL, THUMBNAIL), (200, 200, 200))


def data_uri(data: bytes, kind: str = "jpeg") -> str:
    """An image embedded in a page: an HTML file that opens anywhere, alone."""
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()
