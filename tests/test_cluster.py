"""Extraction on a real Dask LocalCluster of worker processes, on loopback: the same cache as one
process, through a worker killed mid-run and a run killed whole."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import cache
from cache.shards import ShardStore
from extract import build, shard_work
from extract.sources import folder_source
from tests.conftest import TINY, small_shards, write_class_folders
from workflow.paths import Paths


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


def test_a_worker_killed_mid_run_loses_nothing(data, single, tmp_path, random_weights, engine_dir, monkeypatch):
    from extract import cluster

    killed = []
    real_client_for = cluster.client_for

    def kill_one_worker_after_the_first_shard(client):
        parts = Paths(tmp_path).parts / "train"
        deadline = time.monotonic() + 120
        while not list(parts.glob("shard-*.npz")) and time.monotonic() < deadline:
            time.sleep(0.01)
        pids = client.run(os.getpid)
        pid = sorted(pids.values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    def client_for(config):
        context = real_client_for(config)

        class Watched:
            def __enter__(self):
                client = context.__enter__()
                threading.Thread(target=kill_one_worker_after_the_first_shard, args=(client,), daemon=True).start()
                return client

            def __exit__(self, *exc):
                return context.__exit__(*exc)

        return Watched()

    monkeypatch.setattr(cluster, "client_for", client_for)
    summary = build.run(small_shards(data, tmp_path, random_weights, engine_dir, cluster="local:2"), progress=False)
    assert killed
    same_cache(summary.path, single)


def test_after_a_run_killed_whole_only_the_missing_shards_are_computed(
    data, single, tmp_path, random_weights, engine_dir, monkeypatch
):
    from extract import backbone, cluster, engines, identity

    # what a run killed whole leaves: some finished shards of train, in the store of this cache
    one_process = small_shards(data, tmp_path, random_weights, engine_dir)
    store = ShardStore(Paths(tmp_path).parts, identity.digest([cache.info(single)["fingerprint"], None]))
    model = backbone.build_backbone(one_process.weights, TINY)
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

    from classify import heads
    from classify.config import HeadConfig

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    features = rng.normal(0, 1, (120, 16)) + labels[:, None] * 0.8
    config = HeadConfig(cs=[0.001, 0.1, 10.0], folds=3, jobs=2)
    _, in_threads = heads.train_logreg(config, features, labels)
    with LocalCluster(n_workers=1, threads_per_worker=2, host="127.0.0.1", dashboard_address="127.0.0.1:0") as c:
        model, on_cluster = heads.train_logreg(
            HeadConfig(**(vars(config) | {"scheduler": c.scheduler_address})), features, labels
        )
    assert on_cluster["best_C"] == in_threads["best_C"]
    assert on_cluster["cv_log_loss"] == pytest.approx(in_threads["cv_log_loss"], rel=1e-9)
    assert model.predict(features).shape == (120,)


def test_local_gpu_gives_each_visible_gpu_a_worker_of_its_own(data, tmp_path, random_weights, engine_dir, monkeypatch):
    """This machine has no GPU, so this checks the plumbing only: two GPU names in
    CUDA_VISIBLE_DEVICES start two workers, each seeing only its own; they run the Keras engine
    (here on the CPU), and the cache equals one process's Keras cache within 1e-5 (the thread
    counts differ, and oneDNN's sums with them)."""
    from dask.distributed import Client

    from extract import cluster

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with cluster.local_cluster("local-gpu") as local, Client(local) as client:
        assert cluster.start_workers(local, client) is None
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
        np.testing.assert_allclose(a.features, b.features, atol=1e-5)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(cluster.ClusterError, match="found no GPU"):
        cluster.visible_gpus()
