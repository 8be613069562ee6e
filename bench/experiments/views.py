"""Accuracy and extraction time against the number of views per image (VIEWS) and their policy,
the table BENCHMARKS.md records: `python -c "from bench.experiments.views import views_table;
print(views_table(Path('../shared/data/cats_and_dogs_filtered'), WEIGHTS))"`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cache
from classify import train as heads_train
from classify.config import HeadConfig
from extract.config import ExtractConfig
from extract.running import build
from workflow.paths import Paths


def views_table(data: Path, weights: str, sizes=(160, 224), most: int = 8) -> list[tuple]:
    """Accuracy on the scored split, each image as it is and with test-time augmentation, with the
    report's 95% intervals, and extraction seconds, for VIEWS in 1, 2, 4, ... `most` with the
    `finetune` policy and 2 with `flip`. One cache of `most` views per size and policy: its first K
    views are exactly what VIEWS=K extracts (a view depends only on the image and its index)."""
    from report.collect import methods_in
    from report.verdict import rows_of

    table = []
    with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as engine_dir:
        for size in sizes:
            for policy, top in (("flip", 2), ("finetune", most)):
                full = Path(root, f"{policy}{size}")
                config = ExtractConfig(
                    data=str(data),
                    weights=weights,
                    out=str(full),
                    image_size=size,
                    engine_dir=engine_dir,
                    views=top,
                    view_policy=policy,
                    layers="last",  # `first_views` copies one block
                )
                build.run(config, progress=False)
                seconds = sum(s["seconds"] for s in cache.info(Paths(full).cache)["splits"].values())
                for count in [1] + [k for k in (2, 4, 8, 16) if k <= top]:
                    out = Path(root, f"{policy}{size}-{count}")
                    first_views(Paths(full).cache, Paths(out).cache, count)
                    heads_train.run(HeadConfig(out=str(out)))
                    for row in rows_of(methods_in(out)):
                        a = row.accuracy
                        table.append(
                            (
                                size,
                                policy if count > 1 else "–",
                                count,
                                row.method.name,
                                f"{100 * a.estimate:.2f} [{100 * a.low:.2f}, {100 * a.high:.2f}]",
                                f"{seconds * count / top:.0f}",
                            )
                        )
    return table


def first_views(source: Path, target: Path, count: int) -> None:
    """A copy of a cache with each image's first `count` views (the image itself first)."""
    meta = cache.info(source)
    attrs = {k: v for k, v in meta.items() if k not in ("splits", "format_version", "complete")}
    attrs |= {"views": count, "fingerprint": f"{meta['fingerprint']}-{count}"}
    writer = cache.CacheWriter(target, attrs, meta["blocks"], meta["dtype"], count)
    for split, counts in meta["splits"].items():
        data = cache.read_split(source, split, views=True)
        writer.add_split(split)
        writer.append(split, data.features[:, 0], data.labels, data.ids, [], [], views=data.features[:, 1:count])
        # extraction costs a forward pass per view: the copy's share of the source's time
        writer.set_split_attrs(split, n_inputs=counts["n_inputs"], seconds=counts["seconds"] * count / meta["views"])
    writer.close()
