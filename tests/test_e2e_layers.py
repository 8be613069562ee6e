"""Issue 21 end to end: the default cache's block outputs, chosen on the choice rows, beat the last
layer beyond the report's noise on blood-cell microscopy, and lose nothing beyond it on the photos."""

import os

from classify import train
from classify.config import HeadConfig
from classify.metrics import scores_of
from classify.scored import load as load_scored
from extract.config import ExtractConfig
from extract.running import build
from tests.conftest import SHARED, SHARED_WEIGHTS, require_shared
from workflow.paths import Paths

PBC = SHARED / "data" / "pbc_sample"


def logreg_both_ways(cache_path, root):
    """Logistic regression on the last layer alone and with FEATURES=choose, each in its own folder
    over the same cache (hard-linked); (choose's entry, accuracy difference choose - last)."""
    entries, scored = {}, {}
    for features in ("last", "choose"):
        out = root / features
        out.mkdir()
        os.link(cache_path, Paths(out).cache)
        entries[features] = train.run(HeadConfig(out=str(out), heads=["logreg"], seeds=1, features=features))["logreg"]
        scored[features] = load_scored(Paths(out).scored("logreg"))
    chosen, last = scores_of([scored["choose"].probabilities, scored["last"].probabilities], scored["last"].labels, 8)
    return entries["choose"], chosen.difference(last, "accuracy")


def test_blood_cells_gain_from_the_block_outputs_beyond_noise(tmp_path, engine_dir):
    require_shared()
    config = ExtractConfig(
        data=str(PBC), weights=str(SHARED_WEIGHTS), out=str(tmp_path / "pbc"), engine_dir=str(engine_dir)
    )
    path = build.run(config, progress=False).path
    entry, gain = logreg_both_ways(path, tmp_path)
    assert entry["features"]["layers"][-1] == "out_relu" and len(entry["features"]["layers"]) == 18
    assert gain.low > 0, gain  # the paired bootstrap interval of the accuracy difference excludes zero
    assert entry["test"]["balanced_accuracy"]["estimate"] > 0.85


def test_the_photos_lose_nothing_beyond_noise(shared_cache, tmp_path):
    entry, difference = logreg_both_ways(shared_cache, tmp_path)
    assert difference.high > 0, difference  # not worse beyond the report's noise
    assert entry["validation"]["accuracy"] >= 0.965
