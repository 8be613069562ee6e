"""Choice rows new to the fit rows: the audit's confirmed near-copies and a GROUPS file's groups are
never split between fit and dev."""

import json

import numpy as np
import pandas as pd
import pytest

import cache
from bench.synthetic import gaussian_cache
from classify import groups, protocol
from extract.reading.sampling import hash_order
from extract.recorded.holdout import dev_ids
from workflow.errors import WorkflowError
from workflow.paths import Paths

FRACTION = 0.2


@pytest.fixture
def grouped(tmp_path):
    """A cache without a test split, and 30 groups of three train images each."""
    path = gaussian_cache(Paths(tmp_path).cache, rows={"train": 300, "validation": 40})
    ids = cache.ids(path, "train")
    order = np.random.default_rng(0).permutation(len(ids))
    return path, [[ids[i] for i in order[3 * k : 3 * k + 3]] for k in range(30)]


def sides(path, group_lists, groups_file=None):
    dev = protocol.protocol_of(path, FRACTION, groups_file).dev_ids
    return [{item in dev for item in group} for group in group_lists]


def audited(path, group_lists, reason="pixel match"):
    """audit.json and audit.csv as `make audit` writes them: each group a chain of near-copy pairs."""
    paths = Paths(path.parent)
    paths.audit_json.write_text(json.dumps({"cache_fingerprint": cache.info(path)["fingerprint"]}))
    pairs = [(a, b) for group in group_lists for a, b in zip(group, group[1:], strict=False)]
    frame = pd.DataFrame(pairs, columns=["id", "paired_id"]).assign(issue="duplicate", split="train", reason=reason)
    frame.to_csv(paths.audit_csv, index=False)


def test_the_audits_near_copies_fall_on_one_side(grouped):
    path, group_lists = grouped
    assert any(len(side) == 2 for side in sides(path, group_lists))  # by hash of id alone, groups are split
    audited(path, group_lists)
    assert all(len(side) == 1 for side in sides(path, group_lists))
    chosen = protocol.protocol_of(path, FRACTION)
    assert chosen.groups == 30 and chosen.describe()["groups"] == 30 and "30 groups" in chosen.describe()["choose"]
    assert abs(len(chosen.dev_ids) - FRACTION * 300) <= 6  # still about the fraction asked
    assert True in {item in chosen.dev_ids for group in group_lists for item in group}  # groups do go to dev
    audited(path, group_lists, reason="feature similarity")  # the override's pairs are no confirmed copies
    assert protocol.protocol_of(path, FRACTION).groups == 0


def test_a_groups_file_is_honoured_and_a_malformed_one_refused_in_one_line(grouped, tmp_path):
    path, group_lists = grouped
    listed = tmp_path / "groups.csv"
    listed.write_text("".join(f"{item},patient-{k}\n" for k, group in enumerate(group_lists) for item in group))
    assert all(len(side) == 1 for side in sides(path, group_lists, str(listed)))
    recorded = protocol.recorded(protocol.protocol_of(path, FRACTION, str(listed)), "none")
    assert recorded["groups"] != protocol.recorded(protocol.protocol_of(path, FRACTION), "none")["groups"]
    listed.write_text("train/c0/1,patient-1\ntrain/c0/2\n")
    with pytest.raises(WorkflowError) as refused:
        protocol.protocol_of(path, FRACTION, str(listed))
    assert "line 2" in str(refused.value) and "\n" not in str(refused.value)


def test_without_groups_dev_is_the_hash_of_id_as_before(grouped):
    path, _ = grouped
    ids, labels = cache.ids(path, "train"), cache.labels(path, "train")
    assert protocol.protocol_of(path, FRACTION).dev_ids == dev_ids(ids, labels, FRACTION, {})
    by_hash = set()
    for label in np.unique(labels):  # the rule as it was: each class's lowest sha256 of id
        own = [ids[i] for i in np.flatnonzero(labels == label)]
        by_hash |= {own[i] for i in hash_order(own)[: round(FRACTION * len(own))]}
    assert protocol.protocol_of(path, FRACTION).dev_ids == by_hash


def test_a_group_never_takes_a_class_s_last_fit_image(tmp_path):
    """A rare class whose two images are one group (a byte copy, one patient) keeps them in fit: dev
    drawing the group whole would leave the class nothing to train on."""
    path = gaussian_cache(Paths(tmp_path).cache, n_classes=3, rows={"train": 60, "validation": 30}, sizes=[29, 29, 2])
    ids, labels = cache.ids(path, "train"), cache.labels(path, "train")
    rare = [ids[i] for i in np.flatnonzero(labels == 2)]
    assert len(rare) == 2
    (tmp_path / "groups.csv").write_text("".join(f"{item},patient-9\n" for item in rare))
    grouped = protocol.protocol_of(path, FRACTION, str(tmp_path / "groups.csv"))
    fit = protocol.parts_of(path, grouped).fit
    assert np.bincount(fit.labels, minlength=3).min() >= 1
    assert not set(rare) & grouped.dev_ids


def test_a_group_is_named_by_its_given_name_or_least_id_whatever_the_order():
    """A group's name decides its side: it must not follow the cache's order, nor which member
    happens to come first, or adding an image would move a whole patient between fit and dev."""
    ids = ["c", "a", "b", "d", "e", "f"]
    given = {"b": "patient-2", "d": "patient-1", "f": "patient-2"}
    pairs = [("a", "c"), ("d", "e"), ("e", "a")]
    named = groups.joined(ids, given, pairs)
    assert named == groups.joined(ids[::-1], given, pairs[::-1])
    assert {named[item] for item in "acde"} == {"given:patient-1"}  # the copies joined patient-1's group
    assert named["b"] == named["f"] == "given:patient-2"
    assert groups.joined(["z", "y", "x"], {}, [("z", "y")]) == {"z": "copies:y", "y": "copies:y"}
