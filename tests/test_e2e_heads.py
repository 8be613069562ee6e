"""Both heads on the real photos' features reach the accuracy floor."""


def test_both_heads_reach_the_floor_on_real_photos(shared_heads):
    for name in ("logreg", "dense"):
        assert shared_heads[name]["validation"]["accuracy"] >= 0.965, (name, shared_heads[name]["validation"])
        assert shared_heads[name]["validation"]["auc"] >= 0.99


def test_flipped_views_do_not_cost_accuracy_on_real_photos(shared_cache, shared_heads, tmp_path, engine_dir):
    """K=2 (each photo and its mirror image): the heads train on both, and test-time augmentation
    averages over both; neither is worse than one view by more than the noise of 1,000 photos."""
    from classify import train
    from classify.config import HeadConfig
    from extract.config import ExtractConfig
    from extract.running import build
    from tests.conftest import SHARED_DATA, SHARED_WEIGHTS

    config = ExtractConfig(
        data=str(SHARED_DATA), weights=str(SHARED_WEIGHTS), out=str(tmp_path), engine_dir=str(engine_dir), views=2
    )
    build.run(config, progress=False)
    metrics = train.run(HeadConfig(out=str(tmp_path), heads=["logreg"]))
    one_view = shared_heads["logreg"]["validation"]["accuracy"]
    for name in ("logreg", "logreg_tta"):
        assert metrics[name]["validation"]["accuracy"] >= one_view - 0.005, (name, metrics[name]["validation"])


def test_streamed_heads_match_the_in_memory_heads_on_real_photos(shared_cache, shared_heads, tmp_path):
    """Both heads trained as on a cache larger than memory (MEMORY_GB=0: every row streamed from
    the file): logistic regression within 0.3 points of the in-memory fit, the Dense head within
    the spread of its seeds."""
    from classify import train
    from classify.config import HeadConfig

    (tmp_path / "features.h5").symlink_to(shared_cache)  # its own heads/, beside the shared cache
    streamed = train.run(HeadConfig(dense_recipe="tutorial", out=str(tmp_path), epochs=30, memory_gb=0))
    for name, tolerance in (("logreg", 0.003), ("dense", 0.01)):
        assert streamed[name]["streamed"] and not shared_heads[name]["streamed"]
        in_memory = shared_heads[name]["validation"]["accuracy"]
        assert abs(streamed[name]["validation"]["accuracy"] - in_memory) <= tolerance, (name, streamed[name])
