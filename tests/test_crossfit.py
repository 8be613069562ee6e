"""Fine-tuning's start head is picked on choice rows no head tuned on (issue 32, item 6): a head
that memorises the choice rows has the lowest loss there, and must not win the pick."""

import json
import shutil

import numpy as np

from bench.synthetic import gaussian_cache
from classify import crossfit, saved
from classify import train as heads_train
from classify.config import HeadConfig
from classify.heads import REGISTRY, Head
from finetune.start import best_head
from workflow.paths import Paths


class Memoriser(Head):
    """Knows each choice row's label; says class 0, surely, of anything else."""

    name, title, suffix, streams = "memo", "memoriser", ".json", False

    def fit(self, fit, choose, n_classes, seed, class_weight=None, progress=False):
        features, labels = next(choose.blocks())
        self.known = {row.tobytes(): label for row, label in zip(features[:, 0], labels, strict=True)}
        self.n_classes = n_classes
        return self

    def predict_proba(self, features):
        labels = [self.known.get(row.astype(np.float32).tobytes(), 0) for row in features]
        return np.eye(self.n_classes)[labels] * 0.98 + 0.01

    def save(self, path):
        path.write_text("{}")

    @classmethod
    def load(cls, path):
        return cls()

    def choices(self, choose):
        return f"every row of {choose} memorised"


def test_a_head_memorising_the_choice_rows_does_not_win_fine_tunings_start(tmp_path, monkeypatch):
    paths = Paths(tmp_path)
    gaussian_cache(paths.cache, rows={"train": 200, "validation": 60}, dim=8, seed=3)
    heads_train.run(HeadConfig(out=str(tmp_path), heads=["logreg"], seeds=1, jobs=1, folds=2))
    monkeypatch.setitem(REGISTRY, "memo", Memoriser)
    entries = json.loads(paths.heads_metrics.read_text())
    choose = heads_train.parts_of(paths.cache, _protocol(paths)).choose.load()
    memo = Memoriser(HeadConfig()).fit(None, choose, 2, 0)
    tuned = crossfit.loss_on(memo, choose, 2)
    assert tuned < entries["logreg"]["runs"][0]["choice_loss"]  # on the rows it tuned on, it would win
    entries["memo"] = entries["logreg"] | {"runs": [{"seed": 0, "choice_loss": tuned}], "saved_seed": 0}
    paths.heads_metrics.write_text(json.dumps(entries))
    saved.model_path(paths, "memo").write_text("{}")
    shutil.copy(saved.record_path(paths, "logreg"), saved.record_path(paths, "memo"))
    record = saved.load_record(tmp_path, "memo")
    assert crossfit.untuned_choice_loss(tmp_path, "memo", record, entries["memo"]) > 1.0  # wrong, surely, elsewhere
    assert best_head(paths) == "logreg"


def _protocol(paths):
    return heads_train.protocol_of(paths.cache, HeadConfig().dev_fraction)


def test_choice_rows_of_one_image_per_class_cannot_be_halved():
    """A tiny dataset (a class with two train images keeps one for dev): there is no half to tune
    on, so the head keeps the loss it has rather than failing."""
    from classify.part import Loaded

    rows = Loaded(np.eye(3, dtype=np.float32)[:, None], np.arange(3), [f"{i}" for i in range(3)])
    assert not crossfit.halves(rows.labels).any()
    assert crossfit.cross_fitted("dense", HeadConfig(), rows, rows, 3, 0) is None
