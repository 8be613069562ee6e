"""Both heads on the real photos' features reach the accuracy floor."""


def test_both_heads_reach_the_floor_on_real_photos(shared_heads):
    for name in ("logreg", "dense"):
        assert shared_heads[name]["validation"]["accuracy"] >= 0.965, (name, shared_heads[name]["validation"])
        assert shared_heads[name]["validation"]["auc"] >= 0.99
