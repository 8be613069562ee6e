"""The report compares what was really compared (issue 32): the same verdict whatever the order of
RUNS, an audit found by its cache, fitted rows that differ named, fine-tuning against its recorded
start, and every number and picture on the chosen metric."""

import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cache
from classify import train as heads_train
from classify.config import HeadConfig
from report import figures, gallery, sections, verdict, write
from report.__main__ import main as report_main
from report.collect import Method
from report.config import ReportConfig
from tests.conftest import generated_cache, write_class_folders
from tests.test_report import method
from workflow.paths import Paths

# --- fine-tuning against the head it started from ---------------------------------------------


def tuned(start: str, recipe: str) -> Method:
    finetune = method("finetune", 0.93, 2)
    curve = {"choice_loss": [0.5, 0.4], "loss": [0.6]}
    finetune.entry.update(
        recipe=recipe, start=start, learning_rate=1e-4, schedule="constant", fine_tune_at=100, best_epoch=1
    )
    finetune.entry.update(start_won=False, search=None, curve=curve)
    return finetune


@pytest.mark.parametrize(("recipe", "start"), [("searched", "logreg"), ("tutorial", "dense")])
def test_fine_tuning_is_compared_with_its_recorded_start_even_after_a_head_with_a_lower_choice_loss(recipe, start):
    heads = {name: method(name, share, seed) for seed, (name, share) in enumerate([("logreg", 0.95), ("dense", 0.9)])}
    later = method("knn", 0.96, 5)  # added after fine-tuning: the lowest choice loss and the best score
    for head, loss in zip([*heads.values(), later], [0.61, 0.70, 0.59], strict=True):
        head.entry.update(runs=[{"seed": 0, "choice_loss": loss}], saved_seed=0)
    finetune = tuned(start, recipe)
    methods = [*heads.values(), later, finetune]
    rows = verdict.rows_of(methods)
    ((pair_tuned, opponent),) = verdict.tuning_pairs(rows)
    assert pair_tuned.method is finetune and opponent.method.name == start
    assert write.fine_tuning_of(methods, rows)["compared_with"] == start
    assert f"training time of {start}" in verdict.sentences(rows)[0]


def test_a_start_head_missing_from_the_report_gives_no_comparison():
    methods = [method("knn", 0.95, 0), tuned("logreg", "searched")]
    rows = verdict.rows_of(methods)
    assert verdict.tuning_pairs(rows) == [] and write.fine_tuning_of(methods, rows)["compared_with"] is None


def test_the_tutorial_recipe_is_drawn_as_its_saved_run_alone_and_a_search_beside_it(monkeypatch):
    """The tutorial's fixed rate and depth had no search to show: one panel, not an empty one."""
    shown = []
    monkeypatch.setattr(figures, "_save", lambda figure, path: shown.append(figure))
    searched = tuned("logreg", "searched").entry
    candidates = [
        {"learning_rate": rate, "fine_tune_at": 100, "steps": [1, 2, 3], "choice_loss": [0.7, 0.6, 0.5]}
        for rate in (1e-4, 1e-3)
    ]
    searched["search"] = {"candidates": candidates, "seconds": 4.0}
    for entry in (tuned("dense", "tutorial").entry, searched):
        figures.fine_tuning_curves(entry, None)
    titles = [[axis.get_title() for axis in figure.axes] for figure in shown]
    for figure in shown:
        plt.close(figure)
    assert titles == [
        ["The saved run: tutorial recipe"],
        ["The search: 2 candidates, 4 s", "The saved run: searched recipe"],
    ]


# --- the chosen metric, everywhere -------------------------------------------------------------


def test_the_runs_column_the_spread_and_the_figure_follow_the_chosen_metric(monkeypatch):
    a, b = method("logreg", 0.9, 0, runs=3), method("dense", 0.8, 1, runs=2)
    a.scored.labels[:500] = 0  # unequal classes: balanced accuracy and accuracy part ways
    rows = verdict.rows_of([a, b], "balanced_accuracy")
    labels = a.scored.labels  # the report's labels are the first method's (they are checked alike)
    for row in rows:
        per_run = [
            np.mean([np.mean(p.argmax(-1)[labels == k] == k) for k in (0, 1)]) for p in row.method.scored.probabilities
        ]
        assert row.run_scores == pytest.approx(per_run)
    content = {"metric": "balanced_accuracy", "scored_split": "validation"}
    content["methods"] = [{"run_scores": [0.5, 0.6], "spread": 0.05} | stub() for _ in range(1)]
    header, _ = sections.table(content)
    assert "runs: mean ± sd of balanced accuracy (min–max)" in header
    shown = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path: shown.setdefault("axis", figure.axes[0].get_ylabel()))
    figures.metric_against_cost(rows, None)
    assert shown["axis"].startswith("balanced accuracy on validation")


def test_a_metric_set_from_python_that_the_report_does_not_know_is_refused(tmp_path):
    """The command line offers only the known metrics; a config made in Python is checked alike."""
    with pytest.raises(
        ValueError, match=r"^metric must be auto or one of accuracy, balanced_accuracy, macro_f1, got 'f1'$"
    ):
        ReportConfig(out=str(tmp_path), metric="f1")


def stub() -> dict:
    interval = {"estimate": 0.5, "low": 0.4, "high": 0.6}
    cost = {"extraction_seconds": 0, "train_seconds_per_run": 1.0, "inference_ms_per_image": 1.0}
    return {
        "label": "x",
        "accuracy": interval,
        "balanced_accuracy": interval,
        "macro_f1": interval,
        "versus_best": None,
        "cost": cost,
    }


def test_the_galleries_rank_a_small_class_mistake_higher_under_balanced_accuracy():
    a = method("logreg", 1.0, 0)
    labels = np.zeros(600, dtype=int)
    labels[:10] = 1  # a class of 10 images
    predicted = labels.copy()
    predicted[:2] = 0  # 2 of the small class wrong
    predicted[100:120] = 1  # 20 of the large class wrong
    a.scored.labels, a.scored.probabilities = labels, (np.eye(2)[predicted] * 0.8 + 0.1)[None]
    by_count = gallery.top_confusions(verdict.rows_of([a], "accuracy")[0], ["big", "small"])
    by_share = gallery.top_confusions(verdict.rows_of([a], "balanced_accuracy")[0], ["big", "small"])
    assert by_count[0]["true"] == "big" and by_share[0]["true"] == "small"


def test_auto_metric_judges_the_classes_present_and_names_the_absent():
    names = ["cats", "dogs", "monocyte"]
    metric, reason = verdict.default_metric(np.array([0] * 50 + [1] * 50), names)
    assert metric == "accuracy" and "its 2 classes have 50 images each" in reason
    assert "monocyte is absent" in reason and ", 0)" not in reason and "smallest, cats" not in reason


# --- an audit belongs to a cache; the order of RUNS decides nothing --------------------------


@pytest.fixture(scope="module")
def same_cache_twice(tmp_path_factory, random_weights, engine_dir):
    """Folder `a`: a cache, its logistic regression, and an audit of it. Folder `b`: the same
    features.h5 (a hard link), its logistic regression fitted without 4 train images."""
    root = tmp_path_factory.mktemp("compared")
    write_class_folders(root / "data" / "train", ["a", "b"], 12)
    write_class_folders(root / "data" / "validation", ["a", "b"], 10, seed=1)
    a, b = root / "a", root / "b"
    path = generated_cache(root / "data", a, random_weights, engine_dir)
    b.mkdir()
    os.link(path, Paths(b).cache)
    excluded = sorted(cache.ids(path, "train"))[:4]
    (root / "exclude.txt").write_text("\n".join(excluded) + "\n")
    settings = dict(heads=["logreg"], seeds=1, folds=2, jobs=1)
    heads_train.run(HeadConfig(out=str(a), **settings))
    heads_train.run(HeadConfig(out=str(b), exclude=str(root / "exclude.txt"), **settings))
    leaked = sorted(cache.ids(path, "validation"))[:3]  # 15%: over LEAKAGE_SHARE, the verdict uses the rest
    audit = {
        "cache_fingerprint": cache.info(path)["fingerprint"],
        "leaked_from_train": {"validation": 3},
        "leaked_ids": {"validation": leaked},
        "settings": {"similarity": 0.9},
        "counts": {"label": 0, "duplicate": 0},
    }
    Paths(a).audit_json.write_text(json.dumps(audit))
    return root, a, b


@pytest.mark.slow
def test_permuting_runs_leaves_the_report_and_its_audit_unchanged(same_cache_twice):
    root, a, b = same_cache_twice
    reports = []
    for name, runs in (("ab", [a, b]), ("ba", [b, a])):
        assert report_main(["--out", str(root / name), "--runs", ",".join(map(str, runs)), "--quiet"]) == 0
        reports.append(json.loads(Paths(root / name).report_json.read_text()))
    assert reports[0] == reports[1]
    content = reports[0]
    assert all(m["leakage_free"]["n_images"] == 17 for m in content["methods"])  # both folders: the same cache
    assert any("judged on the 17 without one" in s for s in content["verdict"])


@pytest.mark.slow
def test_a_partial_exclude_is_named_in_the_labels_the_rows_and_the_verdict(same_cache_twice):
    root, a, b = same_cache_twice
    assert report_main(["--out", str(root / "named"), "--runs", f"{a},{b}", "--quiet"]) == 0
    content = json.loads(Paths(root / "named").report_json.read_text())
    by_folder = {m["folder"]: m for m in content["methods"]}
    assert by_folder[str(b)]["trained_on"]["excluded"]["train_rows"] == 4
    assert by_folder[str(a)]["trained_on"]["excluded"]["train_rows"] == 0
    assert "4 train images excluded" in by_folder[str(b)]["label"]
    assert "excluded" not in by_folder[str(a)]["label"] and content["trained_on_differs"] == ["excluded"]
    (sentence,) = [s for s in content["verdict"] if "not trained on the same rows" in s]
    assert "4 excluded" in sentence and "0 excluded" in sentence
    markdown = Paths(root / "named").report.read_text()
    assert "4 train images excluded (ids sha256" in markdown and "no train image excluded" in markdown


LEAKED = {"settings": {"similarity": None}, "counts": {"label": 1, "duplicate": 2}}


@pytest.mark.parametrize(
    ("leaked_ids", "leaked_from_train", "note", "clean"),
    [
        (
            [],
            0,
            "; no validation image has a near-duplicate in train (byte copies and the same picture by its pixels).",
            40,
        ),
        ([f"i{i}" for i in range(40)], 40, ": every one of them, so no leakage-free score can be given.", None),
        (None, 3, ": every accuracy above may be inflated by them.", None),  # an audit from before it listed the ids
    ],
    ids=["none", "every one", "not listed"],
)
def test_the_audit_note_says_what_the_verdict_can_be_judged_on(monkeypatch, leaked_ids, leaked_from_train, note, clean):
    summary = LEAKED | {"leaked_from_train": {"validation": leaked_from_train}}
    if leaked_ids is not None:
        summary["leaked_ids"] = {"validation": leaked_ids}
    monkeypatch.setattr(write, "audits_of", lambda methods: ([summary], []))
    audit = write.audit_of([method("logreg", 0.9, 0, images=40)])
    found = "Audit: 1 possible label error and 2 near-duplicate pairs within splits are listed in audit.html"
    assert audit.note.startswith(found) and audit.note.endswith(note)
    if leaked_from_train:
        assert f". {leaked_from_train} of the 40 validation images have a near-duplicate in train (" in audit.note
    assert (None if audit.clean is None else int(audit.clean.sum())) == clean


@pytest.mark.slow
def test_a_metric_set_by_hand_ranks_the_report_and_says_so(same_cache_twice):
    root, a, _ = same_cache_twice
    assert report_main(["--out", str(root / "f1"), "--runs", str(a), "--metric", "macro_f1", "--quiet"]) == 0
    content = json.loads(Paths(root / "f1").report_json.read_text())
    assert content["metric"] == "macro_f1" and content["metric_reason"] == "macro-F1, as METRIC sets"
    assert content["verdict"][0].startswith("Ranked and compared by macro-F1, as METRIC sets.")
