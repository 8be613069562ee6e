"""The fault table of a cluster run: for each moment, runs of `make features CLUSTER=local:2` in
which one worker process is SIGKILLed (or the client's connection dropped) at a random instant
within that moment; how many finished, how many gave the single-process cache bit for bit, and
their wall time against an unkilled run.

    python -m bench.experiments.faults --kills 3 --limit 48 --size 32

Moments: start-up (a worker process killed within its first second, before or while it reaches
the scheduler), submission (as soon as the client has its workers: when the split used to be
scattered), mid-shard (after the first shard is written), result (the instant a shard file
appears, while its task's result travels back), connection (the client's connection to the
scheduler aborted mid-run; Dask reconnects). Real photos, LIMITed, at a small size, so that a
table costs minutes on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import cache
from extract.config import ExtractConfig
from extract.running import build, cluster
from workflow.paths import Paths

MOMENTS = ("start-up", "submission", "mid-shard", "result", "connection")


def first_shard_written(out: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not list(Paths(out).parts.glob("*/shard-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.002)


def kill_a_worker(client, rng: random.Random) -> None:
    pid = rng.choice(sorted(client.run(os.getpid).values()))
    os.kill(pid, signal.SIGKILL)


def strike(moment: str, out: Path, rng: random.Random):
    """What to do, in a thread, once the run's client has its workers."""

    def submission(client):
        time.sleep(rng.uniform(0, 0.5))
        kill_a_worker(client, rng)

    def mid_shard(client):
        first_shard_written(out)
        time.sleep(rng.uniform(0, 2))
        kill_a_worker(client, rng)

    def result(client):
        first_shard_written(out)
        kill_a_worker(client, rng)

    def connection(client):
        first_shard_written(out)
        time.sleep(rng.uniform(0, 2))
        client.loop.add_callback(client.scheduler_comm.comm.abort)

    return {"submission": submission, "mid-shard": mid_shard, "result": result, "connection": connection}[moment]


@contextmanager
def striking(moment: str, out: Path, rng: random.Random):
    """Patch the run's cluster so that `moment`'s fault happens once; yields a list that holds
    True once it did."""
    struck, stop = [], threading.Event()
    real_client_for = cluster.client_for

    @contextmanager
    def client_for(config):
        with real_client_for(config) as (client, note):
            if moment != "start-up":
                action = strike(moment, out, rng)
                threading.Thread(target=lambda: (action(client), struck.append(True)), daemon=True).start()
            yield client, note

    def kill_a_starting_worker():
        import psutil

        me = psutil.Process()
        before = {child.pid for child in me.children(recursive=True)}
        while not stop.is_set():
            for child in me.children(recursive=True):
                try:
                    if child.pid not in before and "spawn_main" in " ".join(child.cmdline()):
                        time.sleep(rng.uniform(0, 1))
                        child.kill()
                        struck.append(True)
                        return
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.005)

    cluster.client_for = client_for
    watcher = threading.Thread(target=kill_a_starting_worker, daemon=True) if moment == "start-up" else None
    if watcher:
        watcher.start()
    try:
        yield struck
    finally:
        stop.set()
        cluster.client_for = real_client_for


def same_cache(mine: Path, theirs: Path) -> bool:
    if cache.info(mine)["fingerprint"] != cache.info(theirs)["fingerprint"]:
        return False
    for split in cache.info(theirs)["splits"]:
        a, b = cache.read_split(mine, split), cache.read_split(theirs, split)
        if a.ids != b.ids or not np.array_equal(a.features, b.features):
            return False
        if cache.skipped(mine, split) != cache.skipped(theirs, split):
            return False
    return True


def timed_run(config: ExtractConfig) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        summary = build.run(config, progress=False)
    except Exception as err:  # recorded in the table: that is what the table is for
        return time.perf_counter() - started, err
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cats_and_dogs_filtered")
    parser.add_argument(
        "--weights", default="../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    )
    parser.add_argument("--kills", type=int, default=10, help="runs per moment")
    parser.add_argument("--limit", type=int, default=48, help="images per split")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--moments", default=",".join(MOMENTS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)

        def config(out: str, **more) -> ExtractConfig:
            return ExtractConfig(
                data=args.data, weights=str(Path(args.weights).resolve()), out=str(folder / out), limit=args.limit,
                image_size=args.size, shard_size=args.shard_size, batch=4, engine="tflite",
                engine_dir=str(folder / "engines"), **more,
            )  # fmt: skip

        single = build.run(config("single"), progress=False).path
        unkilled, summary = timed_run(config("unkilled", cluster="local:2"))
        assert same_cache(summary.path, single), "an unkilled cluster run differs from one process"
        print(f"unkilled cluster run: {unkilled:.1f} s; {summary.status}")
        print("| moment | runs | struck | finished | identical cache | wall / unkilled (median, max) | notes |")
        print("|---|---|---|---|---|---|---|")
        for moment in args.moments.split(","):
            finished = identical = struck_count = 0
            walls, notes = [], set()
            for run in range(args.kills):
                out = f"{moment}-{run}"
                with striking(moment, folder / out, rng) as struck:
                    wall, outcome = timed_run(config(out, cluster="local:2"))
                struck_count += bool(struck)
                walls.append(wall / unkilled)
                if isinstance(outcome, Exception):
                    notes.add(f"{type(outcome).__name__}: {str(outcome)[:120]}")
                    continue
                finished += 1
                identical += same_cache(outcome.path, single)
                if "(" in outcome.status:
                    notes.add(outcome.status[outcome.status.index("(") + 1 : -1])
            print(
                f"| {moment} | {args.kills} | {struck_count} | {finished} | {identical} | "
                f"{np.median(walls):.2f}, {max(walls):.2f} | {'; '.join(sorted(notes))} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
