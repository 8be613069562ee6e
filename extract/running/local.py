"""The local runner: every missing shard of the splits, in order, in this process, with one engine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from cache.shards import ShardStore
from extract.config import ExtractConfig
from extract.reading.sources import Split
from extract.running.shard_work import extract_shards, missing_shards, shard_range


def extract_splits(splits: list[Split], engine, store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    # A shard is written by a thread of its own while the next one is extracted, one at a time and
    # in order: a killed run still leaves whole leading shards, and an interrupted one waits for the
    # write in flight (the executor's exit) before it stops.
    with ThreadPoolExecutor(max_workers=1) as writer:
        for split in splits:
            todo = missing_shards(split, store, config.shard_size)
            if not todo:
                continue
            left = sum(len(shard_range(split, index, config.shard_size)) for index in todo)
            bar = tqdm(total=len(split), initial=len(split) - left, unit="img", desc=split.name, disable=not progress)
            written = None
            for index, shard in extract_shards(split, todo, engine, config):
                if written:
                    written.result()  # raises what the write raised
                written = writer.submit(store.write, split.name, index, shard)
                bar.update(len(shard_range(split, index, config.shard_size)))
            if written:
                written.result()
            bar.close()
