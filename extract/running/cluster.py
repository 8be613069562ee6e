"""The Dask runner of extraction (`CLUSTER=local:N`, or `SCHEDULER=tcp://host:port`): one task
per missing shard, run by `extract.running.shard_work` exactly as one process runs it, and written
atomically into the parts folder, which the workers share with the client. The client then
assembles the cache as a single process does, so the result is the same cache.

Each worker builds its engine once and keeps it, with as many threads as the worker was given
cores; the `engine` resource (1 per worker) lets it run one shard at a time. Each task carries
its shard's own inputs (a few hundred file names), so a worker's death loses nothing but its
running task, which is run again (`extract_splits`); a run killed whole leaves its finished
shards, and the next run submits only the missing ones. Imported only when a cluster is asked
for: the single-process path never imports Dask.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict

from tqdm import tqdm

from cache.shards import ShardStore
from extract.config import ExtractConfig
from extract.reading.sources import Split
from extract.running.shard_work import extract_carried, inputs_of, missing_shards
from workflow.errors import WorkflowError

RETRIES = 3  # per shard, beyond its first try: a worker lost three times over is bad luck, more is a bug
NO_WORKER_SECONDS = 60  # with no worker for this long, the run stops
POLL_SECONDS = 2
START_SECONDS = 120  # for a LocalCluster's workers to start, on a machine busy with other work
_ENGINES: dict = {}  # in each worker process: its engine, by the settings that decide it


class ClusterError(WorkflowError):
    """The cluster cannot run the extraction."""


def extract_splits(splits: list[Split], store: ShardStore, config: ExtractConfig, progress: bool) -> str | None:
    """Every missing shard of `splits`, as tasks of the cluster `config` names, into `store`; a
    one-line note of what the cluster lost on the way, or None.

    Each task carries its own shard's inputs, so no task needs data a dead worker held. A task
    that raises is run again by Dask (`retries`); one whose worker died, or whose future was lost
    with the scheduler's connection, is submitted again here; each shard at most RETRIES more
    times. When a shard has failed every time, or no worker has been left for NO_WORKER_SECONDS,
    the run stops with a ClusterError naming the shard and its last error; the shards written
    stay, and the next run submits only the others."""
    from dask.distributed import CancelledError, wait

    if any(split.paths is None for split in splits):
        raise ClusterError("a cluster reads image files from shared storage: use DATA=<folder>, not TFDS")
    tasks = [(split, index) for split in splits for index in missing_shards(split, store, config.shard_size)]
    if not tasks:
        return None
    settings = asdict(config)
    lost = 0  # shards submitted again after their worker or their future was lost
    with (
        client_for(config) as (client, started),
        tqdm(total=len(tasks), unit="shard", desc="cluster", disable=not progress) as bar,
    ):

        def submit(task):
            split, index = task
            inputs = inputs_of(split, index, config.shard_size)
            options = {"resources": {"engine": 1}, "retries": RETRIES, "pure": False}
            return client.submit(shard_task, settings, inputs, index, str(store.directory), **options)

        attempts = dict.fromkeys(range(len(tasks)), 0)
        pending = {submit(task): number for number, task in enumerate(tasks)}
        alone_since, known = None, _workers(client)
        while pending:
            try:
                done = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            except CancelledError:  # the client lost its connection to the scheduler, and with it these futures
                done = {future for future in pending if future.cancelled()}
            for future in done:
                number = pending.pop(future)
                split, index = tasks[number]
                error = _error_of(future)
                if error is None or store.has(split.name, index):
                    bar.update()  # done; or written before its worker died with the result
                    continue
                attempts[number] += 1
                if not _lost(error) or attempts[number] > RETRIES:
                    raise ClusterError(_stopped(split, index, error))
                lost += 1
                pending[submit(tasks[number])] = number
            present = _workers(client)
            for address in sorted(known - present):  # Dask's own lines about it are hidden unless --verbose
                if progress:
                    bar.write(f"a worker was lost ({address}): its shard runs again, on a restarted worker or another")
            known = present
            alone_since = None if present else (alone_since or time.monotonic())
            if alone_since and time.monotonic() - alone_since > NO_WORKER_SECONDS:
                split, index = tasks[next(iter(pending.values()))]
                raise ClusterError(_stopped(split, index, f"no worker left for {NO_WORKER_SECONDS} s"))
    notes = [started] if started else []
    if lost:
        notes.append(f"{lost} shard{'s' if lost > 1 else ''} submitted again after a lost worker or connection")
    return "; ".join(notes) or None


def _error_of(future) -> Exception | None:
    """What a finished future's task failed with (its own error, KilledWorker, or CancelledError
    when the future was lost with the scheduler's connection), or None if it succeeded."""
    try:
        future.result()
    except Exception as err:
        return err
    return None


def _workers(client) -> set[str]:
    """The addresses of the cluster's workers now."""
    try:
        return set(client.nthreads())
    except OSError as err:  # the scheduler is gone (CommClosedError is an OSError)
        raise ClusterError(
            f"lost the Dask scheduler {client.scheduler.address} ({_first_line(err)}); run again to resume"
        ) from err


def _lost(error: BaseException) -> bool:
    """Whether the task failed only because its worker or its future was lost."""
    from dask.distributed import CancelledError
    from distributed.scheduler import KilledWorker

    return isinstance(error, (CancelledError, KilledWorker))


def _stopped(split: Split, index: int, error: BaseException | str) -> str:
    last = error if isinstance(error, str) else f"{type(error).__name__}: {_first_line(error)}"
    return f"shard {index} of {split.name} failed every try, last error: {last}; run again to resume after it"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


@contextmanager
def client_for(config: ExtractConfig):
    """(client, note): a client of the running scheduler, or of a cluster started on this machine
    for this run (loopback only); the note says which workers failed to start, or is None."""
    from dask.distributed import Client

    if config.scheduler:
        try:
            client = Client(config.scheduler, timeout="30s")
        except OSError as err:  # refused, timed out, unknown host
            raise ClusterError(
                f"cannot reach the Dask scheduler {config.scheduler} ({_first_line(err)}): is it running there?"
            ) from err
        with client:
            workers = client.scheduler_info()["workers"].values()
            if not any(worker.get("resources", {}).get("engine") for worker in workers):
                raise ClusterError(
                    f"no worker of {config.scheduler} has the engine resource: start them with "
                    "`dask worker <scheduler> --nthreads <cores> --resources engine=1`"
                )
            yield client, None
        return
    with local_cluster() as cluster, Client(cluster) as client:
        yield client, start_workers(cluster, client, worker_specs(config.cluster))


def local_cluster():
    """A scheduler on this machine, on loopback, with no worker yet (`start_workers` adds them:
    a worker given at start-up that fails to start fails the whole cluster)."""
    from dask.distributed import Scheduler, SpecCluster

    loopback = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    return SpecCluster(workers={}, scheduler={"cls": Scheduler, "options": loopback})


def worker_specs(cluster: str) -> dict[str, dict]:
    """The workers of `local:N` (N worker processes sharing the cores) or `local-gpu` (one worker
    process per visible GPU, which sees only its own: CUDA_VISIBLE_DEVICES, as dask-cuda's
    LocalCUDACluster starts them), as Dask's SpecCluster names them."""
    from dask.distributed import Nanny

    if cluster == "local-gpu":
        env = {f"gpu-{gpu}": {"CUDA_VISIBLE_DEVICES": gpu} for gpu in visible_gpus()}
    else:
        env = {f"worker-{i}": {} for i in range(int(cluster.removeprefix("local:")))}
    cores = max(1, (os.cpu_count() or 1) // len(env))
    options = {"nthreads": cores, "resources": {"engine": 1}, "host": "127.0.0.1"}
    return {name: {"cls": Nanny, "options": options | {"env": variables}} for name, variables in env.items()}


def start_workers(cluster, client, specs: dict[str, dict]) -> str | None:
    """Start the workers `specs` names on a `local_cluster` and wait for them; carry on with those
    that started (a worker killed while it starts fails its nanny); a note saying so, or None."""
    # a worker that fails to start raises inside Dask's own start-up task, which logs it with a
    # traceback: the note says it in one line instead
    logging.getLogger("distributed.deploy.spec").setLevel(logging.CRITICAL)
    cluster.worker_spec.update(specs)
    cluster.scale(len(specs))
    deadline = time.monotonic() + START_SECONDS
    while len(_workers(client)) < len(specs) and time.monotonic() < deadline:
        if cluster.workers and all(worker.status.name in ("running", "failed") for worker in cluster.workers.values()):
            break  # every nanny has started its worker or given up
        time.sleep(0.2)
    running = len(_workers(client))
    if running == len(specs):
        return None
    if running == 0:
        raise ClusterError(f"none of the {len(specs)} workers of the local cluster started within {START_SECONDS} s")
    return f"{len(specs) - running} of {len(specs)} workers failed to start; ran on {running}"


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


def shard_task(settings: dict, inputs: Split, index: int, parts: str) -> int:
    """On a worker: shard `index` of a split from its own `inputs`, written into the shared parts folder."""
    config = ExtractConfig(**settings)
    ShardStore(parts).write(inputs.name, index, extract_carried(inputs, index, _engine(config), config))
    return index


def _engine(config: ExtractConfig):
    """This worker's engine, built on its first task (the engine name arrives resolved)."""
    from dask.distributed import get_worker

    from extract.network import backbone, engines

    key = (
        config.backbone,
        config.weights,
        config.image_size,
        config.layers,
        config.engine,
        config.batch,
        str(config.engine_path),
    )
    if key not in _ENGINES:
        model = backbone.build_backbone(config.weights, config.image_size, config.source)
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
