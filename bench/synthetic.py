"""Caches of generated features: Gaussian classes, stored as extraction stores real ones. The one
builder behind the tests' and the benchmarks' synthetic caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import cache
from extract.network.feature_source import FeatureSource
from extract.reading.sources import in_row_order

WRITE_ROWS = 50_000  # rows generated and written at a time: a 2,000,000-row cache in bounded memory
# What the stages after extraction read from a cache's attributes, as a generated cache fills them
ATTRS = {
    "dataset": "generated",
    "image_size": 32,
    "engine": "-",
    "preprocessing": "-",
    "model": "-",
    "weights": "-",
    "weights_sha256": "0" * 64,
    "versions": {},
}


def gaussian_cache(
    path: Path,
    n_classes: int = 2,
    rows: dict[str, int] | None = None,
    dim: int = 16,
    *,
    spread: float = 0.6,
    views: int = 1,
    view_noise: float = 0.3,
    sizes=None,
    listing: bool = False,
    relu: bool = False,
    dtype: str = "float16",
    seed: int = 0,
    attrs: dict | None = None,
    blocks: dict[str, int] | None = None,
    informative: int | None = None,
) -> Path:
    """A cache of `rows[split]` images per split (default 700, 150, 150), each image its class's
    centre (drawn with `spread`) plus unit noise, with `views` - 1 copies at `view_noise`.

    `sizes`: train's class sizes, the other splits in the same proportions (at least one image a
    class); else labels drawn at random. Rows in the order extraction stores a folder's
    (`in_row_order`), or with `listing`, each class's images together as a listing of class folders
    gives them. `relu`: features clipped at zero, as pooled ReLU outputs are. `blocks`: the feature
    blocks ({name: width}, `dim` their sum) as a multi-layer cache stores them; `informative`: only
    the first so many columns have class centres, the rest is noise."""
    rows = rows or {"train": 700, "validation": 150, "test": 150}
    rng = np.random.default_rng(seed)
    dim = sum(blocks.values()) if blocks else dim
    centres = rng.normal(0, spread, (n_classes, dim))
    centres[:, informative:] = 0 if informative is not None else centres[:, informative:]
    record = ATTRS | {"fingerprint": f"generated-{seed}", "class_names": [f"c{k}" for k in range(n_classes)]}
    # one block where `blocks` is unset: the default backbone's last layer, what a cache without a
    # feature-source record holds
    writer = cache.CacheWriter(path, record | (attrs or {}), blocks or {FeatureSource().layers[0]: dim}, dtype, views)
    for split, count in rows.items():
        if sizes is None:
            labels = np.sort(rng.integers(0, n_classes, count))
        else:
            share = np.asarray(sizes) * (count / rows["train"])
            labels = np.repeat(np.arange(n_classes), np.maximum(1, np.round(share)).astype(int))
        ids = [f"{split}/c{label}/{i}" for i, label in enumerate(labels)]
        if not listing:
            position = {item: i for i, item in enumerate(ids)}
            order = np.array([position[item] for item in in_row_order(ids)], dtype=np.int64)
            labels, ids = labels[order], [ids[i] for i in order]
        writer.add_split(split)
        for start in range(0, len(labels), WRITE_ROWS):
            chunk = labels[start : start + WRITE_ROWS]
            images = centres[chunk] + rng.standard_normal((len(chunk), dim))
            extra = images[:, None] + rng.normal(0, view_noise, (len(chunk), views - 1, dim)) if views > 1 else None
            if relu:
                images, extra = np.maximum(images, 0), None if extra is None else np.maximum(extra, 0)
            writer.append(split, images, chunk, ids[start : start + WRITE_ROWS], [], [], views=extra)
        writer.set_split_attrs(split, n_inputs=len(labels), seconds=1.0)
    return writer.close()
