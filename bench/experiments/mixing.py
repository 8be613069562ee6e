"""The streamed Dense head against the in-memory one as classes and views grow, and how the rows'
stored order decides it (issue 26; BENCHMARKS.md):

    .venv/bin/python -m bench.experiments.mixing            # every row of the table
    .venv/bin/python -m bench.experiments.mixing --quick    # one small row, a smoke test

Generated features: Gaussian classes in `DIM` dimensions (spread so that the in-memory head
reaches roughly 70-80%), each image with `views` - 1 noisy copies. The block size is scaled by
`DIM` / 1280, so that a block holds as many rows as it does on real 1280-d features (51 spans of
256 rows at one view, 6 at eight). Each training split is stored three ways:
- `listing`: each class's rows together, as a listing of class folders gave them (format 4);
- `hash`: in `extract.reading.sources.in_row_order` (format 5: what extraction writes now);
- `gather`: the listing order, read by a reader that draws each block as a random sample of the
  whole part (a sorted gather of permuted positions): the alternative the issue names.
Then `--reads` times one epoch's reads of each reader on a larger split, and `--long-tail`
compares the streamed logistic regression with the in-memory one on power-law class sizes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import cache
from bench.synthetic import gaussian_cache
from classify import part as part_module
from classify.config import HeadConfig
from classify.heads import network
from classify.part import SPAN, Loaded, Part
from extract.network.backbone import FEATURE_DIM
from workflow.paths import Paths

DIM = 64
BLOCK_BYTES = part_module.BLOCK_BYTES * DIM // FEATURE_DIM  # as many rows per block as at 1280-d


def spread_for(n_classes: int, target: float = 0.75, seed: int = 0) -> float:
    """A spread of the class centres at which the nearest centre is right about `target` of the time."""
    rng = np.random.default_rng(seed)
    for spread in np.geomspace(0.05, 3.0, 40):
        centres = rng.normal(0, spread, (n_classes, DIM))
        labels = rng.integers(0, n_classes, 4000)
        points = centres[labels] + rng.normal(0, 1, (4000, DIM))
        distances = (points**2).sum(1)[:, None] - 2 * points @ centres.T + (centres**2).sum(1)[None]
        if (distances.argmin(axis=1) == labels).mean() >= target:
            return float(spread)
    return 3.0


def generated(path: Path, n_classes: int, views: int, images: int, order: str, seed: int = 0, sizes=None) -> Path:
    """A cache of `images` train images (and a quarter as many in validation and test each), stored
    in `order` ("listing" or "hash"); with `sizes`, train's class sizes, the others in proportion."""
    rows = {"train": images, "validation": images // 4, "test": images // 4}
    return gaussian_cache(
        path,
        n_classes,
        rows,
        DIM,
        spread=spread_for(n_classes),
        views=views,
        view_noise=0.5,
        sizes=sizes,
        listing=order == "listing",
        seed=seed,
    )


def gathered_blocks(self: Part, seed=None):
    """`Part.blocks`, but each shuffled block a random sample of the whole part, read as the chunks
    that hold its rows (a sorted gather): every block reads most of the split's chunks."""
    if seed is None:
        yield from ordered_blocks(self)
        return
    rng = np.random.default_rng(seed)
    rows = max(SPAN, part_module.BLOCK_BYTES // (self.views * self.dim * 4))
    order = rng.permutation(len(self))
    with cache.reading(self.cache_path, self.split) as split_file:
        for start in range(0, len(self), rows):
            keep = np.zeros(len(self), dtype=bool)
            keep[order[start : start + rows]] = True
            block = self.subset(keep)
            features, labels = block.read_spans(split_file, np.unique(block.positions // SPAN))
            mixed = rng.permutation(len(labels))
            yield features[mixed], labels[mixed]


ordered_blocks = Part.blocks


def accuracy(model, data: cache.SplitData) -> float:
    return float((network.dense_probabilities(model, data.features).argmax(axis=1) == data.labels).mean())


def row(n_classes: int, views: int, images: int, orders: list[str], folder: Path, learning_rate: float = 1e-4) -> dict:
    """Test accuracy of the in-memory head and of the streamed head under each order, and seconds."""
    part_module.BLOCK_BYTES = BLOCK_BYTES
    config = HeadConfig(seed=0, learning_rate=learning_rate, dense_recipe="tutorial")
    result = {"classes": n_classes, "views": views, "images": images}
    for order in orders:
        path = generated(folder / f"{n_classes}-{views}-{order}.h5", n_classes, views, images, order)
        fit = Part.whole(path, "train")
        choose, test = cache.read_split(path, "validation"), cache.read_split(path, "test")
        choose = Loaded(choose.features[:, None], choose.labels, choose.ids)
        if order == "hash":
            data = fit.load()
            started = time.perf_counter()
            model, _, _ = network.train_dense(config, data, choose, n_classes)
            result["memory"] = (accuracy(model, test), time.perf_counter() - started)
        Part.blocks = gathered_blocks if order == "gather" else ordered_blocks
        try:
            started = time.perf_counter()
            model, _, _ = network.train_dense(config, fit, choose, n_classes)
            result[order] = (accuracy(model, test), time.perf_counter() - started)
        finally:
            Part.blocks = ordered_blocks
    return result


def long_tail(folder: Path, classes: int = 20, largest: int = 3000, smallest: int = 10) -> dict:
    """Logistic regression streamed (C searched on `SEARCH_ROWS` = 200 or 1,000 images) against in memory, on
    classes whose sizes follow a power law from `largest` down to `smallest` images: test accuracy."""
    from classify import train

    exponent = np.log(largest / smallest) / np.log(classes)
    sizes = np.round(largest * np.arange(1, classes + 1, dtype=float) ** -exponent).astype(int)
    out = folder / "long-tail"
    generated(Paths(out).cache, classes, 1, int(sizes.sum()), "hash", sizes=sizes)
    settings = {"out": str(out), "heads": ["logreg"], "seeds": 1, "jobs": 1}
    result = {"sizes": sizes.tolist()}
    streamed = [(f"streamed, C on {n}", {"memory_gb": 0.0, "search_rows": n}) for n in (200, 1000)]
    for name, more in [("memory", {}), *streamed]:
        started = time.perf_counter()
        entry = train.run(HeadConfig(**settings, **more))["logreg"]
        result[name] = (entry["test"]["accuracy"], entry["best_C"], time.perf_counter() - started)
    return result


def read_seconds(images: int, folder: Path) -> dict:
    """One shuffled epoch's reads of a larger split, contiguous blocks against gathered ones."""
    part_module.BLOCK_BYTES = BLOCK_BYTES
    path = generated(folder / "reads.h5", 10, 1, images, "hash")
    fit = Part.whole(path, "train")
    seconds = {}
    for name, blocks in (("hash", ordered_blocks), ("gather", gathered_blocks)):
        started = time.perf_counter()
        count = sum(len(labels) for _, labels in blocks(fit, seed=1))
        seconds[name] = time.perf_counter() - started
        assert count == images
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small row")
    parser.add_argument("--images", type=int, default=20_000, help="train images at one view (half at eight)")
    parser.add_argument("--reads", type=int, default=0, help="also time one epoch's reads of a split this large")
    parser.add_argument("--long-tail", action="store_true", help="streamed logistic regression on long-tailed classes")
    args = parser.parse_args()
    if args.long_tail:
        with tempfile.TemporaryDirectory() as folder:
            print(long_tail(Path(folder)))
        return
    grid = [(10, 1)] if args.quick else [(k, v) for v in (1, 8) for k in (2, 10, 100, 1000)]
    images = 3000 if args.quick else args.images
    with tempfile.TemporaryDirectory() as folder:
        print("| classes | views | in memory | streamed, hash order | listing order | gather |")
        print("|---|---|---|---|---|---|")
        for n_classes, views in grid:
            # the gather reader mixes as well as any order can: its accuracy is shown where it is cheap
            orders = ["hash", "listing", "gather"] if n_classes >= 10 and views == 1 else ["hash", "listing"]
            r = row(n_classes, views, images // (2 if views > 1 else 1), orders, Path(folder))
            cells = [f"{100 * r[o][0]:.1f}% ({r[o][1]:.0f} s)" if o in r else "–" for o in ("memory", *orders)]
            cells += ["–"] * (4 - len(cells))
            print(f"| {n_classes} | {views} | " + " | ".join(cells) + " |", flush=True)
        if args.reads:
            print(read_seconds(args.reads, Path(folder)))


if __name__ == "__main__":
    main()
