"""The local runner: every missing shard of the splits, in order, in this process, with one engine."""

from __future__ import annotations

from tqdm import tqdm

from cache.shards import ShardStore
from extract.config import ExtractConfig
from extract.shard_work import extract_shards, missing_shards, shard_range
from extract.sources import Split


def extract_splits(splits: list[Split], engine, store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    for split in splits:
        todo = missing_shards(split, store, config.shard_size)
        if not todo:
            continue
        left = sum(len(shard_range(split, index, config.shard_size)) for index in todo)
        bar = tqdm(total=len(split), initial=len(split) - left, unit="img", desc=split.name, disable=not progress)
        for index, shard in extract_shards(split, todo, engine, config):
            store.write(split.name, index, shard)
            bar.update(len(shard_range(split, index, config.shard_size)))
        bar.close()
