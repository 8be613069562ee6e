"""The verdict's statistics on cases with a known answer, the protocol's splits, and the report
end to end on generated images: every method, its interval, several folders in one report."""

import html
import json
import re
from math import comb

import numpy as np
import pytest

import cache
from classify import scored
from classify import train as heads_train
from classify.config import HeadConfig
from classify.metrics import scores_of
from classify.protocol import dev_ids, protocol_of, rows_of
from finetune.baseline import main as baseline_main
from finetune.config import FinetuneConfig
from finetune.tune import run as finetune
from report import stats, verdict
from report.__main__ import main as report_main
from report.collect import Method, collect
from tests.conftest import TINY, tiny_cache, write_class_folders
from tests.tiny_backbone import TinyNet
from workflow.errors import WorkflowError
from workflow.paths import Paths

# --- statistics ---------------------------------------------------------------------------


def test_mcnemar_on_methods_that_differ_on_exactly_k_images():
    a = np.ones((1, 50))
    b = a.copy()
    b[0, :5] = 0  # only A is right on 5 images, only B on none
    assert stats.mcnemar_p(a, b) == pytest.approx(2 * 0.5**5)  # by hand: 2 · P(X = 0 | n = 5) = 0.0625
    b[0, 4] = 1  # only A right on 4 ...
    a[0, 10] = 0  # ... only B right on 1
    assert stats.mcnemar_p(a, b) == pytest.approx(2 * (comb(5, 0) + comb(5, 1)) / 2**5)  # 0.375
    assert stats.mcnemar_p(a, a) == 1.0


def scored_as(*correct):
    """Each (runs, images) correctness as a method's `Scores` on the same images: two classes,
    every image of class 0, predicted 0 where right."""
    labels = np.zeros(correct[0].shape[1], dtype=int)
    return scores_of([np.eye(2)[(c == 0).astype(int)] for c in correct], labels, 2)


def test_identical_methods_give_a_difference_interval_centred_on_zero():
    rng = np.random.default_rng(0)
    correct = (rng.random((3, 400)) < 0.8).astype(float)
    a, b = scored_as(correct, correct.copy())
    delta = a.difference(b, "accuracy")
    assert (delta.estimate, delta.low, delta.high) == (0.0, 0.0, 0.0)


def test_accuracy_interval_matches_the_binomial_width():
    rng = np.random.default_rng(1)
    correct = (rng.random((1, 2000)) < 0.9).astype(float)
    (scores,) = scored_as(correct)
    interval = scores.interval("accuracy")
    p = correct.mean()
    half_width = 1.96 * np.sqrt(p * (1 - p) / 2000)
    assert interval.low < p < interval.high
    assert (interval.high - interval.low) / 2 == pytest.approx(half_width, rel=0.1)
    assert scored_as(np.ones((2, 30)))[0].interval("accuracy").low == 1.0


def test_paired_interval_excludes_zero_for_a_real_difference_and_is_narrower_than_unpaired():
    rng = np.random.default_rng(2)
    a = (rng.random((1, 1000)) < 0.9).astype(float)
    b = a.copy()
    b[0, np.flatnonzero(a[0])[:40]] = 0  # B loses 40 images A gets
    mine, theirs = scored_as(a, b)
    delta = mine.difference(theirs, "accuracy")
    assert delta.estimate == pytest.approx(0.04) and delta.low > 0


def test_majority_vote_breaks_ties_with_the_first_run():
    correct = np.array([[1, 0, 1, 0], [0, 1, 1, 0]], dtype=float)
    assert stats.majority(correct).tolist() == [True, False, True, False]
    assert stats.majority(np.array([[1, 0], [1, 0], [0, 1]], dtype=float)).tolist() == [True, False]


# --- protocol -----------------------------------------------------------------------------


def test_dev_split_is_stable_stratified_and_inside_train():
    ids = [f"{c}/{i}.jpg" for c in ("a", "b") for i in range(100)]
    labels = np.repeat([0, 1], 100)
    dev = dev_ids(ids, labels, 0.1)
    assert len(dev) == 20 and sum(item.startswith("a/") for item in dev) == 10  # 10% of each class
    assert dev == dev_ids(list(reversed(ids)), labels[::-1], 0.1)  # order does not matter
    more = ids + [f"a/new{i}.jpg" for i in range(10)]
    grown = dev_ids(more, np.array([0] * 100 + [1] * 100 + [0] * 10), 0.1)
    assert len(dev - grown) <= 1  # adding images moves at most the boundary one per class
    assert dev <= set(ids)


def feature_cache(path, splits, labels=None):
    """A cache of `splits` ({name: rows}) of zero features, ids `<split>/<row>`; every split's labels
    are `labels`, or a and b in turn."""
    meta = {"fingerprint": "fp", "class_names": ["a", "b"], "image_size": TINY}
    writer = cache.CacheWriter(path, meta, {"out_relu": 4}, "float32")
    for name, count in splits.items():
        writer.add_split(name)
        rows = np.arange(count) % 2 if labels is None else labels
        writer.append(name, np.zeros((count, 4)), rows, [f"{name}/{i}" for i in range(count)], [], [])
    writer.close()
    return path


def test_choices_never_see_the_scored_split(tmp_path):
    without_test = protocol_of(feature_cache(tmp_path / "a.h5", {"train": 40, "validation": 10}), 0.1)
    assert (without_test.choose, without_test.score, len(without_test.dev_ids)) == ("dev", "validation", 4)
    rows = rows_of(tmp_path / "a.h5", without_test)
    assert set(rows.choose.ids) == without_test.dev_ids
    assert not set(rows.fit.ids) & set(rows.choose.ids) and len(rows.fit.ids) == 36
    assert not (set(rows.fit.ids) | set(rows.choose.ids)) & set(rows.score.ids)
    with_test = protocol_of(feature_cache(tmp_path / "b.h5", {"train": 40, "validation": 10, "test": 10}), 0.1)
    assert (with_test.choose, with_test.score, with_test.dev_ids) == ("validation", "test", frozenset())
    rows = rows_of(tmp_path / "b.h5", with_test)
    assert len(rows.fit.ids) == 40 and rows.choose.ids[0].startswith("validation/")


# --- verdict ------------------------------------------------------------------------------


def method(name, correct_share, seed, runs=1, images=600, seconds=1.0):
    rng = np.random.default_rng(seed)
    labels = np.arange(images) % 2
    right = rng.random((runs, images)) < correct_share
    predicted = np.where(right, labels, 1 - labels)
    probabilities = np.eye(2)[predicted] * 0.8 + 0.1
    data = scored.Scored(
        "validation",
        [f"i{i}" for i in range(images)],
        labels,
        probabilities,
        list(range(runs)),
        np.full(runs, seconds),
        0.001,
    )
    meta = {"splits": {"train": {"seconds": 10.0, "rows": 100}}, "image_size": 160}
    return Method(name, name, None, meta, {}, data)


def test_no_winner_is_named_where_the_interval_holds_zero():
    same = verdict.rows_of([method("logreg", 0.97, 0), method("finetune", 0.97, 1, seconds=500.0)])
    said = " ".join(verdict.sentences(same))
    assert "within noise" in said and "ahead" not in said and "more accurate" not in said
    assert "500×" in said  # fine-tuning's cost against the head's
    apart = verdict.rows_of([method("logreg", 0.99, 0, runs=3), method("finetune", 0.80, 1, runs=3)])
    assert apart[0].method.name == "logreg" and not apart[1].versus_best.holds(0.0)
    said = " ".join(verdict.sentences(apart))
    assert "logreg is more accurate than finetune" in said and "within noise" not in said and "Ran once" not in said


def test_an_edge_mcnemar_does_not_confirm_is_called_uncertain():
    # B is wrong on 12 images A gets right and right on 4 A gets wrong; with 3 runs each of
    # which A's differ on 30 images, the paired interval clears zero while McNemar's exact test
    # on the majority votes (12 against 4, p = 0.077) does not.
    labels = np.arange(800) % 2
    correct_a = np.ones((3, 800))
    correct_a[:, :4] = 0
    correct_b = np.ones((3, 800))
    correct_b[:, 4:16] = 0
    correct_b[0, 16:46] = 0  # one of B's runs is worse still: the seed-averaged gap widens
    rows = verdict.rows_of([from_correct("A", correct_a, labels), from_correct("B", correct_b, labels)])
    assert not rows[1].versus_best.holds(0.0) and rows[1].mcnemar_p == pytest.approx(0.0768, abs=1e-3)
    (sentence,) = [s for s in verdict.sentences(rows) if "B" in s]
    assert sentence.startswith("A is ahead of B, but McNemar's test does not confirm it")


def from_correct(name, correct, labels):
    predicted = np.where(correct > 0, labels, 1 - labels).astype(int)
    data = scored.Scored(
        "validation",
        [f"i{i}" for i in range(len(labels))],
        labels,
        np.eye(2)[predicted],
        list(range(len(correct))),
        np.ones(len(correct)),
        0.001,
    )
    return Method(name, name, None, {"splits": {}}, {}, data)


# --- the report end to end -----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_sizes(tmp_path_factory, tiny_weights, engine_dir):
    """Heads at two image sizes over the same generated images, and fine-tuning and the tutorial at
    one, on the tests' tiny backbone (the report reads any backbone's results alike)."""
    root = tmp_path_factory.mktemp("report")
    write_class_folders(root / "data" / "train", ["a", "b"], 16)
    write_class_folders(root / "data" / "validation", ["a", "b"], 8, seed=1)
    outs = []
    for size in (TINY, 40):
        out = root / f"out{size}"
        tiny_cache(root / "data", out, tiny_weights, engine_dir, image_size=size)
        seeds = 2 if size == TINY else 1  # several runs where the report shows their spread
        heads_train.run(HeadConfig(dense_recipe="tutorial", out=str(out), epochs=3, jobs=1, folds=2, seeds=seeds))
        outs.append(out)
    search = dict(search_steps=3, search_rates=[1e-5, 1e-4], search_depths=[TinyNet.fine_tune_at])
    finetune(FinetuneConfig(out=str(outs[0]), epochs=1, batch=8, seeds=1, **search), progress=False)
    assert baseline_main(["--out", str(outs[0]), "--epochs", "1", "--batch", "8", "--seeds", "1", "--quiet"]) == 0
    return root, outs


@pytest.mark.slow
def test_report_has_every_method_with_its_interval_in_every_format(two_sizes, capsys):
    _, (out, _) = two_sizes
    capsys.readouterr()
    assert report_main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Verdict" in printed and "report.html" in printed
    content = json.loads(Paths(out).report_json.read_text())
    names = [m["name"] for m in content["methods"]]
    assert sorted(names) == ["dense", "finetune", "logreg", "tutorial"]
    assert {m["name"]: m["label"] for m in content["methods"]} == {  # each method under its own name
        "logreg": "logistic regression on cache",
        "dense": "Dense head on cache",
        "finetune": "fine-tuned end to end",
        "tutorial": "tutorial recipe (frozen base in fit)",
    }
    assert content["scored_split"] == "validation" and content["images"] == 16
    for m, stored in zip(content["methods"], [scored.load(Paths(out).scored(n)) for n in names], strict=True):
        accuracy = np.mean(stored.probabilities.argmax(-1) == stored.labels)
        assert m["accuracy"]["estimate"] == pytest.approx(accuracy)
        assert m["accuracy"]["low"] <= accuracy <= m["accuracy"]["high"]
        assert m["runs"] == len(stored.seeds) and m["protocol"]["choose"].startswith("dev")
        assert m["cost"]["train_seconds_per_run"] > 0 and m["cost"]["inference_ms_per_image"] > 0
        assert m["cost"]["precision"] == "float32"  # the cache's engine; end-to-end methods run Keras in float32
    assert content["methods"][0]["versus_best"] is None
    assert all(0 <= m["versus_best"]["mcnemar_p"] <= 1 for m in content["methods"][1:])
    assert any("Ran once" in s and "fine-tuned" in s for s in content["verdict"])
    markdown = Paths(out).report.read_text()
    page = Paths(out).report_html.read_text()
    for m in content["methods"]:
        assert m["label"] in markdown and m["label"] in page
    shown = {i["id"] for items in content["most_wrong"].values() for i in items} | {
        i["id"] for i in content["disagreements"]
    }
    assert shown and all(item in page for item in shown)
    assert page.count("data:image/jpeg;base64,") >= len(shown) and "data:image/png;base64," in page
    assert "src='report" not in page and 'src="report' not in page  # self-contained
    assert len(list(Paths(out).report_thumbnails.glob("*.jpg"))) == len(shown)
    tuned = content["fine_tuning"]  # the recipe, what the search saw, the saved run's curve
    assert tuned["recipe"] == "searched" and len(tuned["search"]["candidates"]) == 2
    assert len(tuned["curve"]["choice_loss"]) == 2 and tuned["best_epoch"] in (0, 1)
    assert "## Fine-tuning's recipe" in markdown and "<h2>Fine-tuning's recipe</h2>" in html.unescape(page)
    assert ("epoch 0, the start itself" in markdown) == tuned["start_won"]
    assert Paths(out).report_fine_tuning.stat().st_size > 0 and page.count("data:image/png;base64,") == 3


@pytest.mark.slow
def test_several_folders_in_one_report_and_other_images_refused(two_sizes, tmp_path, tiny_weights, engine_dir):
    root, (small, large) = two_sizes
    assert report_main(["--out", str(tmp_path / "both"), "--runs", f"{small},{large}", "--quiet"]) == 0
    content = json.loads(Paths(tmp_path / "both").report_json.read_text())
    labels = [m["label"] for m in content["methods"]]
    assert "logistic regression on cache, 32 px" in labels and "logistic regression on cache, 40 px" in labels
    assert len(labels) == 6
    other = tmp_path / "other"
    tiny_cache(root / "data", other, tiny_weights, engine_dir, limit=10)
    heads_train.run(
        HeadConfig(dense_recipe="tutorial", out=str(other), epochs=1, jobs=1, folds=2, seeds=1, heads=["logreg"])
    )
    with pytest.raises(WorkflowError, match="scored on other images"):
        collect([small, other])


def scored_folder(out, labels: np.ndarray):
    """An output folder as far as the report reads it: a cache, and logistic regression's metrics and
    scored probabilities on its validation images, labelled `labels` (always right)."""
    paths = Paths(out)
    out.mkdir(parents=True)
    feature_cache(paths.cache, {"validation": len(labels)}, labels)
    ids = cache.ids(paths.cache, "validation")
    paths.heads_metrics.parent.mkdir(parents=True, exist_ok=True)
    paths.heads_metrics.write_text(json.dumps({"logreg": {"cache_fingerprint": "fp"}}))
    paths.scored("logreg").parent.mkdir(parents=True, exist_ok=True)
    probabilities = np.eye(2)[labels][None]
    scored.save(paths.scored("logreg"), scored.Scored("validation", ids, labels, probabilities, [0], np.ones(1), 0.001))
    return out


def test_a_folder_with_a_cache_but_no_scored_method_says_what_to_run(tmp_path, capsys):
    out = scored_folder(tmp_path / "out", np.arange(6) % 2)
    Paths(out).heads_metrics.unlink()  # the cache alone: no head has run
    assert report_main(["--out", str(out), "--quiet"]) == 1
    assert capsys.readouterr().err == f"error: no scored methods in {out}: run `make heads` (and `make finetune`)\n"


def test_folders_that_scored_the_same_images_under_other_labels_are_refused(tmp_path):
    """Class folders swapped in one folder's data: the same image ids, but other labels."""
    labels = np.arange(6) % 2
    same, again = scored_folder(tmp_path / "same", labels), scored_folder(tmp_path / "again", labels)
    assert len(collect([same, again])) == 2  # the same labels: one report
    swapped = scored_folder(tmp_path / "swapped", 1 - labels)
    label = f"logistic regression on cache, {swapped} ({swapped})"
    with pytest.raises(WorkflowError, match=f"^{re.escape(label)} has other labels for the same images$"):
        collect([same, swapped])
