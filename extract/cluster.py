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
import subprocess
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
    """A client of the running scheduler, or of a cluster started on this machine for this run
    (loopback only)."""
    from dask.distributed import Client

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
    with local_cluster(config.cluster) as cluster, Client(cluster) as client:
        yield client


def local_cluster(cluster: str):
    """`local:N`: N worker processes sharing the cores; `local-gpu`: one worker process per visible
    GPU, which sees only its own (CUDA_VISIBLE_DEVICES), as dask-cuda's LocalCUDACluster starts them."""
    from dask.distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    loopback = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    if cluster != "local-gpu":
        workers = int(cluster.removeprefix("local:"))
        cores = max(1, (os.cpu_count() or 1) // workers)
        return LocalCluster(
            n_workers=workers, threads_per_worker=cores, processes=True, resources={"engine": 1}, **loopback
        )
    gpus = visible_gpus()
    cores = max(1, (os.cpu_count() or 1) // len(gpus))
    workers = {
        f"gpu-{gpu}": {
            "cls": Nanny,
            "options": {
                "nthreads": cores,
                "resources": {"engine": 1},
                "env": {"CUDA_VISIBLE_DEVICES": gpu},
                "host": "127.0.0.1",
            },
        }
        for gpu in gpus
    }
    return SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": loopback})


def visible_gpus() -> list[str]:
    """The GPUs `local-gpu` gives a worker each: those CUDA_VISIBLE_DEVICES names, else every GPU
    nvidia-smi lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        try:
            query = ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"]
            listed = subprocess.run(query, capture_output=True, text=True, check=True).stdout.replace("\n", ",")
        except (OSError, subprocess.CalledProcessError):
            listed = ""
    gpus = [item.strip() for item in listed.split(",") if item.strip() and not item.strip().startswith("-")]
    if not gpus:
        raise ClusterError(
            "CLUSTER=local-gpu found no GPU: set CUDA_VISIBLE_DEVICES, or run where nvidia-smi lists one "
            "(after `make venv GPU=1`)"
        )
    return gpus


def leave_gpus_to_workers() -> None:
    """Keep this (client) process's TensorFlow off the GPUs, which TensorFlow would otherwise claim
    in full when the client builds the backbone for its weights hash."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.set_visible_devices([], "GPU")


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
