"""Extraction in one process against Dask workers, and Dask's own costs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from bench.context import Bench
from extract.config import ExtractConfig
from extract.running import build


def rows(bench: Bench) -> Iterator[tuple]:
    yield from cluster_rows(bench.data, bench.weights, bench.engine_dir, bench.limit, bench.out, bench.quick)


def cluster_rows(data: Path, weights: str, engine_dir: Path, limit: int | None, out: Path, quick: bool) -> list[tuple]:
    """Extraction in one process against 2 Dask workers of 1 core each on the same 2 cores: a
    LocalCluster started for the run (`CLUSTER=local:2`), and a running one whose workers have
    built their engines (`SCHEDULER=`, the steady state); shards of 256 so that the 2 workers
    share the work evenly. Then Dask's own costs: start-up and a task's round trip."""
    from dask.distributed import Client, LocalCluster

    def wall(**more) -> float:
        config = ExtractConfig(
            data=str(data),
            weights=weights,
            out=str(out),
            engine="tflite",
            engine_dir=str(engine_dir),
            limit=limit,
            shard_size=256,
            force=True,
            **more,
        )
        started = time.perf_counter()
        build.run(config, progress=False)
        return time.perf_counter() - started

    single = wall()
    # quick: the cluster started for the run is left out (about 20 s of workers starting TensorFlow); tests cover it
    started_for_run = None if quick else wall(cluster="local:2")
    started = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0", resources={"engine": 1}
    ) as local:
        with Client(local) as client:
            client.submit(abs, -1).result()
            start_up = time.perf_counter() - started
            started = time.perf_counter()
            client.gather(client.map(abs, range(-200, 0)))
            per_task = (time.perf_counter() - started) / 200
        # the workers build their engines; quick times that run alone (its numbers are not read)
        running = wall(scheduler=local.scheduler_address)
        if not quick:
            running = wall(scheduler=local.scheduler_address)
    rows = [("extraction, 1 process (2 cores)", 160, f"{single:.1f} s", "wall, in-process, shards of 256")]
    if started_for_run is not None:
        rows.append(
            (
                "extraction, LocalCluster started for the run, 2 workers × 1 core",
                160,
                f"{started_for_run:.1f} s",
                f"{single / started_for_run:.2f}× the single process: workers start TensorFlow and build their engines",
            )
        )
    return rows + [
        (
            "extraction, running cluster of 2 workers × 1 core",
            160,
            f"{running:.1f} s",
            f"{single / running:.2f}× the single process (target 0.9×)",
        ),
        ("Dask LocalCluster start-up, 2 workers", "–", f"{start_up:.1f} s", "to the first task's result"),
        ("Dask per-task round trip", "–", f"{1000 * per_task:.1f} ms", "200 no-op tasks on 2 workers"),
    ]
