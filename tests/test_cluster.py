"""Extraction on a real Dask LocalCluster of worker processes, on loopback: the same cache as one
process, through a worker killed mid-run and a run killed whole."""

import os
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

import cache
from cache.shards import ShardStore
from extract.reading.sources import folder_source
from extract.running import build, shard_work
from tests.conftest import TINY, small_shards, write_class_folders
from workflow.paths import Paths

pytestmark = pytest.mark.slow  # real LocalClusters of worker processes


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    write_class_folders(root / "train", ["a", "b"], 40)
    write_class_folders(root / "validation", ["a", "b"], 8, seed=1)
    (root / "train" / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def same_cache(mine, theirs):
    assert cache.info(mine)["fingerprint"] == cache.info(theirs)["fingerprint"]
    for split in ("train", "validation"):
        a, b = cache.read_split(mine, split), cache.read_split(theirs, split)
        assert a.ids == b.ids
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.features, b.features)  # bit for bit: one row's arithmetic, any threads
        assert cache.skipped(mine, split) == cache.skipped(theirs, split)


@pytest.fixture(scope="module")
def single(data, tmp_path_factory, random_weights, engine_dir):
    out = tmp_path_factory.mktemp("single")
    return build.run(small_shards(data, out, random_weights, engine_dir), progress=False).path


def test_a_two_worker_cluster_builds_the_single_process_cache(data, single, tmp_path, random_weights, engine_dir):
    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert summary.status == "built"
    same_cache(summary.path, single)


def test_a_cluster_carries_every_feature_block(data, tmp_path, random_weights, engine_dir):
    layers = {"layers": "block_2_add,block_16_expand_relu,out_relu"}
    single = build.run(small_shards(data, tmp_path / "one", random_weights, engine_dir, **layers), progress=False)
    two = small_shards(data, tmp_path / "two", random_weights, engine_dir, cluster="local:2", **layers)
    same_cache(build.run(two, progress=False).path, single.path)
    assert list(cache.info(single.path)["blocks"]) == layers["layers"].split(",")


def kill_a_worker_once(monkeypatch, wait_for) -> list[int]:
    """SIGKILL one worker of the run's cluster once `wait_for(client)` returns, in a thread started
    as soon as the run has its client (its workers started); the pids killed."""
    from extract.running import cluster

    killed = []
    real_client_for = cluster.client_for

    def kill(client):
        wait_for(client)
        pid = sorted(client.run(os.getpid).values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    @contextmanager
    def client_for(config):
        with real_client_for(config) as (client, note):
            threading.Thread(target=kill, args=(client,), daemon=True).start()
            yield client, note

    monkeypatch.setattr(cluster, "client_for", client_for)
    return killed


def test_a_worker_killed_as_the_tasks_are_submitted_loses_nothing(
    data, single, tmp_path, random_weights, engine_dir, monkeypatch
):
    """The moment the split used to be scattered to every worker: now each task carries its own inputs."""
    killed = kill_a_worker_once(monkeypatch, lambda client: None)
    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert killed
    same_cache(summary.path, single)


def test_a_worker_killed_mid_run_loses_nothing(data, single, tmp_path, random_weights, engine_dir, monkeypatch):
    def after_the_first_shard(client):
        parts = Paths(tmp_path).parts / "train"
        deadline = time.monotonic() + 120
        while not list(parts.glob("shard-*.npz")) and time.monotonic() < deadline:
            time.sleep(0.01)

    killed = kill_a_worker_once(monkeypatch, after_the_first_shard)
    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert killed
    same_cache(summary.path, single)


def test_a_worker_killed_while_the_cluster_starts_leaves_it_running_on_the_other(
    data, single, tmp_path, random_weights, engine_dir
):
    """The first worker process is killed as soon as it exists, before it reaches the scheduler:
    its nanny fails to start, and the run goes on with one worker and says so."""
    import psutil

    me, before = psutil.Process(), {child.pid for child in psutil.Process().children(recursive=True)}
    killed, stop = [], threading.Event()

    def kill_the_first_worker():
        while not stop.is_set():
            for child in me.children(recursive=True):
                try:
                    if child.pid not in before and "spawn_main" in " ".join(child.cmdline()):
                        child.kill()
                        killed.append(child.pid)
                        return
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.005)

    watcher = threading.Thread(target=kill_the_first_worker, daemon=True)
    watcher.start()
    try:
        summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    finally:
        stop.set()
    assert killed
    assert summary.status in ("built", "built (1 of 2 workers failed to start; ran on 1)"), summary.status
    same_cache(summary.path, single)


FAILING_SHARD = """
import errno
from extract.running import cluster


def failing(real):
    def extract_carried(inputs, index, engine, config):
        if inputs.name == "train" and index == 3:
            raise OSError(errno.EIO, "Input/output error", inputs.paths[0])
        return real(inputs, index, engine, config)

    extract_carried.failing = True
    return extract_carried


if not hasattr(cluster.extract_carried, "failing"):  # Dask may run a preload twice
    cluster.extract_carried = failing(cluster.extract_carried)
"""


def test_a_shard_that_fails_every_try_stops_the_run_in_one_line_and_the_next_run_resumes(
    data, single, tmp_path, random_weights, engine_dir
):
    from dask.distributed import LocalCluster

    from extract.running import cluster

    preload = tmp_path / "failing_shard.py"  # run by the worker as it starts: shard 3 of train always fails
    preload.write_text(FAILING_SHARD)
    options = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0", "resources": {"engine": 1}}
    with LocalCluster(n_workers=1, threads_per_worker=1, preload=[str(preload)], **options) as failing:
        config = small_shards(data, tmp_path, random_weights, engine_dir, scheduler=failing.scheduler_address)
        with pytest.raises(cluster.ClusterError) as stopped:
            build.run(config, progress=False)
    assert str(stopped.value) == (
        "shard 3 of train failed every try, last error: OSError: [Errno 5] Input/output error: "
        f"{folder_source(data).splits[0].paths[24]!r}; run again to resume after it"  # shard 3's first file
    )
    written = sorted(path.name for path in (Paths(tmp_path).parts / "train").glob("shard-*.npz"))
    assert "shard-000003.npz" not in written and len(written) >= 1

    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert summary.status == "resumed"
    same_cache(summary.path, single)


def test_after_a_run_killed_whole_only_the_missing_shards_are_computed(
    data, single, tmp_path, random_weights, engine_dir, monkeypatch
):
    from extract.network import backbone, engines
    from extract.reading import hashes
    from extract.running import cluster

    # what a run killed whole leaves: some finished shards of train, in the store of this cache
    one_process = small_shards(data, tmp_path, random_weights, engine_dir)
    store = ShardStore(Paths(tmp_path).parts, hashes.digest([cache.info(single)["fingerprint"], None]))
    model = backbone.build_backbone(one_process.weights, TINY, one_process.source)
    engine = engines.make_engine("tflite", model, backbone.weights_sha256(model), TINY, 4, engine_dir)
    train = folder_source(data).splits[0]
    for index, shard in shard_work.extract_shards(train, [0, 1, 3], engine, one_process):
        store.write("train", index, shard)

    submitted = {}
    real = shard_work.missing_shards

    def recorded(split, shards, shard_size):
        submitted[split.name] = real(split, shards, shard_size)
        return submitted[split.name]

    monkeypatch.setattr(cluster, "missing_shards", recorded)
    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert summary.status == "resumed"
    assert submitted["train"] == [2, *range(4, 11)]  # 81 train inputs in shards of 8: 0, 1 and 3 were done
    same_cache(summary.path, single)


def test_the_heads_search_runs_on_a_cluster_and_chooses_as_in_threads():
    from dask.distributed import LocalCluster

    from classify.config import HeadConfig
    from classify.heads.logreg import train_logreg

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    features = rng.normal(0, 1, (120, 16)) + labels[:, None] * 0.8
    config = HeadConfig(cs=[0.001, 0.1, 10.0], folds=3, jobs=2)
    _, in_threads = train_logreg(config, features, labels)
    with LocalCluster(n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address="127.0.0.1:0") as c:
        model, on_cluster = train_logreg(
            HeadConfig(**(vars(config) | {"scheduler": c.scheduler_address})), features, labels
        )
    assert on_cluster["best_C"] == in_threads["best_C"]
    assert on_cluster["cv_log_loss"] == pytest.approx(in_threads["cv_log_loss"], rel=1e-9)
    assert model.predict(features).shape == (120,)


def test_local_gpu_gives_each_visible_gpu_a_worker_of_its_own(data, tmp_path, random_weights, engine_dir, monkeypatch):
    """This machine has no GPU, so this checks the plumbing only: two GPU names in
    CUDA_VISIBLE_DEVICES start two workers, each seeing only its own; they run the Keras engine
    (here on the CPU), and the cache equals one process's Keras cache within 1e-4 (the thread
    counts differ, and oneDNN's float32 sums with them: 1.7e-5 was seen on a loaded machine)."""
    from dask.distributed import Client

    from extract.running import cluster

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with cluster.local_cluster() as local, Client(local) as client:
        assert cluster.start_workers(local, client, cluster.worker_specs("local-gpu")) is None
        assert sorted(client.run(os.getenv, "CUDA_VISIBLE_DEVICES").values()) == ["0", "1"]
        assert all(worker["resources"] == {"engine": 1} for worker in client.scheduler_info()["workers"].values())
    one = build.run(small_shards(data, tmp_path / "one", random_weights, engine_dir, engine="keras"), progress=False)
    gpus = small_shards(data, tmp_path / "gpus", random_weights, engine_dir, engine="auto", cluster="local-gpu")
    many = build.run(gpus, progress=False)
    assert cache.info(many.path)["engine"] == "keras"
    assert cache.info(many.path)["fingerprint"] == cache.info(one.path)["fingerprint"]
    for split in ("train", "validation"):
        a, b = cache.read_split(many.path, split), cache.read_split(one.path, split)
        assert a.ids == b.ids and cache.skipped(many.path, split) == cache.skipped(one.path, split)
        np.testing.assert_allclose(a.features, b.features, atol=1e-4)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(cluster.ClusterError, match="found no GPU"):
        cluster.visible_gpus()
