"""`make audit` on generated features with planted problems: flipped labels, copies across and
within splits, and images unlike their class."""

import json

import numpy as np
import pandas as pd
import pytest

import cache
from audit import find
from audit.__main__ import main as audit_main
from audit.config import AuditConfig
from classify import protocol
from classify import train as heads_train
from classify.config import HeadConfig
from workflow.paths import Paths

DIM = 64
FLIPPED = ["train/0/7", "train/0/91", "train/1/13", "train/1/150", "train/2/44", "train/2/120"]
LEAKED = {"validation/1/5": "train/copy-of-v5", "validation/2/9": "train/copy-of-v9"}  # validation id: its copy
TWINS = ("train/0/30", "train/0/twin-of-30")
OUTLIERS = ["train/1/odd", "train/2/odd"]


def planted_cache(out, scored_labels=None):
    """Three classes of Gaussian blobs in DIM dimensions, train 200 and validation 40 per class,
    with every planted problem; `scored_labels`, if given, replace validation's labels."""
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1.5, (3, DIM))

    def blob(label, count):
        return means[label] + rng.normal(0, 1, (count, DIM))

    splits = {}
    for split, per_class in (("train", 200), ("validation", 40)):
        features = np.concatenate([blob(label, per_class) for label in range(3)])
        labels = np.repeat(np.arange(3), per_class)
        ids = [f"{split}/{label}/{i}" for label in range(3) for i in range(per_class)]
        splits[split] = [features, labels, ids]
    train = splits["train"]
    for item in FLIPPED:
        train[1][train[2].index(item)] = (int(item.split("/")[1]) + 1) % 3
    validation = splits["validation"]
    extra = []
    for source, copy in LEAKED.items():
        extra.append((validation[0][validation[2].index(source)], validation[1][validation[2].index(source)], copy))
    extra.append((train[0][train[2].index(TWINS[0])], 0, TWINS[1]))
    for item in OUTLIERS:
        label = int(item.split("/")[1])
        extra.append((means[label] + 6 * rng.normal(0, 1, DIM), label, item))  # its class, far off
    for features, label, item in extra:
        train[0] = np.vstack([train[0], features + rng.normal(0, 0.01, DIM)])  # a re-encoded copy
        train[1] = np.append(train[1], label)
        train[2].append(item)

    if scored_labels is not None:
        splits["validation"][1] = np.asarray(scored_labels)
    attrs = {"fingerprint": "planted", "class_names": ["0", "1", "2"], "dataset": "planted", "versions": {}}
    attrs |= {"image_size": 32, "engine": "tflite", "preprocessing": "-", "model": "-", "weights": "-"}
    writer = cache.CacheWriter(Paths(out).cache, attrs | {"weights_sha256": "0" * 64}, {"out_relu": DIM}, "float32")
    copied = {copy: source for source, copy in LEAKED.items()} | {TWINS[1]: TWINS[0]}
    for split, (features, labels, ids) in splits.items():
        writer.add_split(split)
        content = [f"bytes of {copied.get(item, item)}" for item in ids]  # each copy the same file as its source
        writer.append(split, features, labels, ids, [], [], content)
        writer.set_split_attrs(split, n_inputs=len(ids), seconds=1.0)
    writer.close()
    return Paths(out).cache


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("planted")
    path = planted_cache(out)
    return path, find.audit(path, AuditConfig(out=str(out), jobs=1))


def test_flipped_labels_are_found_first(planted):
    _, found = planted
    labels = found[found["issue"] == "label"]
    assert sorted(labels["id"]) == sorted(FLIPPED)
    flipped = labels.set_index("id").loc[FLIPPED]
    assert (flipped["suggested_label"] == [item.split("/")[1] for item in FLIPPED]).all()  # the true class back
    assert labels["score"].is_monotonic_decreasing


def test_copies_across_splits_are_leakage_and_within_a_split_duplicates(planted):
    _, found = planted
    leakage = found[found["issue"] == "leakage"]
    assert sorted(zip(leakage["id"], leakage["paired_id"], strict=True)) == sorted(
        (copy, source) for source, copy in LEAKED.items()
    )  # the train image is `id`: the one EXCLUDE would take out
    assert (leakage["split"] == "train").all() and (leakage["score"] > 0.999).all()
    duplicates = found[found["issue"] == "duplicate"]
    assert list(zip(duplicates["id"], duplicates["paired_id"], strict=True)) == [TWINS]


def test_images_unlike_their_class_are_the_first_outliers(planted):
    _, found = planted
    outliers = found[(found["issue"] == "outlier") & (found["split"] == "train")]
    assert set(outliers["id"][:2]) == set(OUTLIERS)  # the flipped ones, as isolated, are listed as label issues
    assert len(outliers) == round(0.01 * (600 + len(LEAKED) + 1 + len(OUTLIERS)))


def test_what_exclude_drops_from_train_does_not_depend_on_the_scored_splits_labels(planted, tmp_path):
    """Validation's labels permuted: every train finding that audit.csv lists is the same."""
    path, found = planted
    labels = cache.labels(path, "validation")
    permuted = find.audit(
        planted_cache(tmp_path, np.random.default_rng(3).permutation(labels)), AuditConfig(out=str(tmp_path), jobs=1)
    )

    def from_train(findings):
        rows = findings[(findings["split"] == "train") & (findings["issue"] != "leakage")]
        return list(rows.fillna(-1).itertuples(index=False))  # NaN: no pixel score, which NaN == NaN would fail

    assert from_train(permuted) == from_train(found) and len(from_train(found)) > len(FLIPPED)
    validation = permuted[(permuted["issue"] == "label") & (permuted["split"] == "validation")]
    assert len(validation) > len(found[(found["issue"] == "label") & (found["split"] == "validation")])


def test_findings_are_grouped_by_issue_in_order(planted):
    _, found = planted
    assert list(found.columns) == find.COLUMNS
    assert list(dict.fromkeys(found["issue"])) == list(find.ISSUES)


def test_grouped_folds_keep_an_images_views_together():
    """Eight views of each image; one image's views all carry the wrong label. With its views
    grouped, the model that predicts them never saw any of them; split across folds, the other
    views teach it the wrong label."""
    rng = np.random.default_rng(1)
    means = rng.normal(0, 0.6, (2, DIM))
    images = np.repeat(np.arange(40), 8)
    labels = images % 2
    centres = means[np.arange(40) % 2] + rng.normal(0, 1, (40, DIM))
    features = centres[images] + rng.normal(0, 0.05, (len(images), DIM))
    planted = images == 6
    labels = np.where(planted, 1, labels)  # image 6 is of class 0
    config = AuditConfig(folds=5, c=10.0, jobs=1)
    grouped = find.out_of_fold(features, labels, images, config)[planted, 1]
    ungrouped = find.out_of_fold(features, labels, np.arange(len(images)), config)[planted, 1]
    assert grouped.mean() < 0.5 < ungrouped.mean()


def test_make_audit_writes_the_table_the_counts_and_galleries_of_every_finding(planted, tmp_path, capsys, monkeypatch):
    from audit import write

    path = planted_cache(tmp_path)
    monkeypatch.setattr(write, "Thumbnails", GreyThumbnails)  # the planted cache has no image files
    assert audit_main(["--out", str(tmp_path), "--jobs", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "warning: 2 validation images have a near-duplicate in train" in printed
    table = pd.read_csv(Paths(tmp_path).audit_csv, keep_default_na=False)
    leakage = pd.read_csv(Paths(tmp_path).audit_leakage_csv, keep_default_na=False)
    assert list(table.columns) == list(leakage.columns) == find.COLUMNS
    assert "leakage" not in set(table["issue"]) and set(leakage["issue"]) == {"leakage"}
    assert len(table) + len(leakage) == len(planted[1])
    assert protocol.read_ids(str(Paths(tmp_path).audit_csv)).isdisjoint(LEAKED.values())  # not in EXCLUDE=audit.csv
    assert protocol.read_ids(str(Paths(tmp_path).audit_leakage_csv)) == set(LEAKED.values())  # a choice of its own
    summary = json.loads(Paths(tmp_path).audit_json.read_text())
    assert summary["leaked_from_train"] == {"validation": 2}
    assert summary["leaked_ids"] == {"validation": sorted(LEAKED)}  # what the report scores without
    assert summary["cache_fingerprint"] == cache.info(path)["fingerprint"]
    # each flipped image's given class is its true class + 1: the (given, suggested) pairs to look at
    flipped = sorted(((int(i.split("/")[1]) + 1) % 3, int(i.split("/")[1])) for i in FLIPPED)
    pairs = summary["label_pairs"]
    assert sum(p["count"] for p in pairs) == summary["counts"]["label"]
    assert [p["count"] for p in pairs] == sorted((p["count"] for p in pairs), reverse=True)
    found = sorted((int(p["given"]), int(p["suggested"])) for p in pairs for _ in range(p["count"]))
    assert found == flipped
    assert "| given | suggested | issues |" in Paths(tmp_path).audit_md.read_text()
    page = Paths(tmp_path).audit_html.read_text()
    assert all(item in page for item in table["id"]) and page.count("data:image/jpeg;base64,") >= len(table)
    assert all(item in Paths(tmp_path).audit_md.read_text() for item in table["id"])


class GreyThumbnails:
    def __init__(self, meta, out):
        pass

    def jpeg(self, image_id):
        return b"\xff\xd8grey"


def test_heads_exclude_exactly_the_listed_train_ids(tmp_path):
    planted_cache(tmp_path)
    listed = tmp_path / "exclude.txt"
    listed.write_text("\n".join([*FLIPPED, "validation/0/3", "no/such/id"]) + "\n")
    rows = protocol.rows_of(Paths(tmp_path).cache, protocol.protocol_of(Paths(tmp_path).cache, 0.1))
    kept = protocol.rows_of(
        Paths(tmp_path).cache,
        protocol.protocol_of(Paths(tmp_path).cache, 0.1),
        protocol.read_ids(str(listed)),
    )
    assert set(rows.fit.ids + rows.choose.ids) - set(kept.fit.ids + kept.choose.ids) == set(FLIPPED)
    assert kept.score.ids == rows.score.ids  # the scored split never changes

    audit_csv = tmp_path / "audit.csv"
    pd.DataFrame({"id": FLIPPED, "issue": "label"}).to_csv(audit_csv, index=False)
    assert protocol.read_ids(str(audit_csv)) == frozenset(FLIPPED)
    config = HeadConfig(out=str(tmp_path), heads=["logreg"], seeds=1, jobs=1, exclude=str(audit_csv))
    metrics = heads_train.run(config)
    assert metrics["logreg"]["excluded"] == {"file": str(audit_csv), "train_rows": len(FLIPPED)}


@pytest.mark.slow
def test_the_report_compares_heads_with_and_without_the_audits_findings_and_quotes_its_leakage(tmp_path, monkeypatch):
    from audit import write
    from report import write as report_writer
    from report.config import ReportConfig

    audited, clean = tmp_path / "audited", tmp_path / "clean"
    planted_cache(audited)
    monkeypatch.setattr(write, "Thumbnails", GreyThumbnails)
    write.write_audit(AuditConfig(out=str(audited), jobs=1))
    heads_train.run(HeadConfig(out=str(audited), heads=["logreg"], seeds=1, jobs=1))
    clean.mkdir()
    Paths(clean).cache.hardlink_to(Paths(audited).cache)  # the same cache, another output folder
    excluded = HeadConfig(out=str(clean), heads=["logreg"], seeds=1, jobs=1, exclude=str(Paths(audited).audit_csv))
    heads_train.run(excluded)

    monkeypatch.setattr(report_writer, "Thumbnails", GreyThumbnails)
    content = json.loads(
        report_writer.write_report(ReportConfig(out=str(clean), runs=[str(audited), str(clean)]))
        .with_suffix(".json")
        .read_text()
    )
    assert sorted(m["label"] for m in content["methods"]) == sorted(
        [f"logistic regression on cache, {audited}", f"logistic regression on cache, 13 train images excluded, {clean}"]
    )  # on the same scored images, with the report's intervals and paired test; the exclusion named
    audit_line = content["verdict"][-1]
    assert "2 of the 120 validation images have a near-duplicate in train (byte copy: 2)" in audit_line
    assert "at most 5%, so the verdict uses every image" in audit_line  # 1.7%: scored again all the same
    assert all(m["leakage_free"]["n_images"] == 118 for m in content["methods"])
