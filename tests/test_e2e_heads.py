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
    from extract import build
    from extract.config import ExtractConfig
    from tests.conftest import SHARED_DATA, SHARED_WEIGHTS

    config = ExtractConfig(
        data=str(SHARED_DATA), weights=str(SHARED_WEIGHTS), out=str(tmp_path), engine_dir=str(engine_dir), views=2
    )
    build.run(config, progress=False)
    metrics = train.run(HeadConfig(out=str(tmp_path), heads=["logreg"]))
    one_view = shared_heads["logreg"]["validation"]["accuracy"]
    for name in ("logreg", "logreg_tta"):
        assert metrics[name]["validation"]["accuracy"] >= one_view - 0.005, (name, metrics[name]["validation"])
