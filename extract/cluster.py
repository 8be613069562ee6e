"""Extraction on a Dask cluster (`CLUSTER=local:N`, or `SCHEDULER=tcp://host:port`): one task
per missing shard, run by `extraction.extract_shards` exactly as one process runs it, and written
atomically into the parts folder, which the workers share with the client. The client then
assembles the cache as a single process does, so the result is the same cache.

Each worker builds its engine once and keeps it, with as many threads as the worker was given
cores; the `engine` resource (1 per worker) lets it run one shard at a time. A task whose worker
dies is run again elsewhere by the scheduler; a run killed whole leaves its finished shards, and
the next run submits only the missing ones. Imported only when a cluster is asked for: the
single-process path never imports Dask.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict

from tqdm import tqdm

from cache.shards import ShardStore
from extract.config import ExtractConfig
from extract.sources import Split
from workflow.errors import WorkflowError

_ENGINES: dict = {}  # in each worker process: its engine, by the settings that decide it


class ClusterError(WorkflowError):
    """The cluster cannot run the extraction."""


def extract_splits(splits: list[Split], store: ShardStore, config: ExtractConfig, progress: bool) -> None:
    """Every missing shard of `splits`, as tasks of the cluster `config` names, into `store`."""
    from dask.distributed import as_completed

    from extract.extraction import missing_shards

    if any(split.paths is None for split in splits):
        raise ClusterError("a cluster reads image files from shared storage: use DATA=<folder>, not TFDS")
    tasks = [(split, index) for split in splits for index in missing_shards(split, store, config.shard_size)]
    if not tasks:
        return
    settings = asdict(config)
    with client_for(config) as client:
        shared = {split.name: client.scatter(split, broadcast=True) for split in splits}
        futures = [
            client.submit(
                shard_task,
                settings,
                shared[split.name],
                index,
                str(store.directory),
                resources={"engine": 1},
                pure=False,
            )
            for split, index in tasks
        ]
        with tqdm(total=len(futures), unit="shard", desc="cluster", disable=not progress) as bar:
            for future in as_completed(futures):
                future.result()  # a task's own error, raised here
                bar.update()


@contextmanager
def client_for(config: ExtractConfig):
    """A client of the running scheduler, or of a LocalCluster started for this run (loopback only)."""
    from dask.distributed import Client, LocalCluster

    if config.scheduler:
        with Client(config.scheduler, timeout="30s") as client:
            workers = client.scheduler_info()["workers"].values()
            if not any(worker.get("resources", {}).get("engine") for worker in workers):
                raise ClusterError(
                    f"no worker of {config.scheduler} has the engine resource: start them with "
                    "`dask worker <scheduler> --nthreads <cores> --resources engine=1`"
                )
            yield client
        return
    workers = int(config.cluster.removeprefix("local:"))
    cores = max(1, (os.cpu_count() or 1) // workers)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=cores,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            resources={"engine": 1},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def shard_task(settings: dict, split: Split, index: int, parts: str) -> int:
    """On a worker: one shard, extracted and written into the shared parts folder."""
    from extract.extraction import extract_shards

    config = ExtractConfig(**settings)
    ((_, shard),) = extract_shards(split, [index], _engine(config), config)
    ShardStore(parts).write(split.name, index, shard)
    return index


def _engine(config: ExtractConfig):
    """This worker's engine, built on its first task (the engine name arrives resolved)."""
    from dask.distributed import get_worker

    from extract import backbone, engines

    key = (config.weights, config.image_size, config.engine, config.batch, str(config.engine_path))
    if key not in _ENGINES:
        model = backbone.build_backbone(config.weights, config.image_size)
        threads = get_worker().state.nthreads
        _ENGINES[key] = engines.make_engine(
            config.engine,
            model,
            backbone.weights_sha256(model),
            config.image_size,
            config.batch,
            config.engine_path,
            threads,
        )
    return _ENGINES[key]
