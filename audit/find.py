"""The dataset's own problems, found from its cached features: label issues, near-duplicates
(within a split) and leakage (across splits), and outliers. Each finder returns a DataFrame with
the columns of audit.csv, most suspicious first.

    from audit import find
    find.label_issues("artifacts/features.h5")

- **Label issues**: probabilities from logistic regression, each image predicted by a model that
  never saw it or any of its views (with views, trained on all of them and averaged over an
  image's): train's out of fold over train alone, every other split's from the model fitted on
  train; ranked within each split by cleanlab's confident learning (`find_label_issues`, ordered
  by self-confidence: the probability of the given label).
- **Duplicates and leakage**: exact nearest neighbours by cosine similarity of the features,
  computed block by block (scikit-learn's brute-force search, `working_memory` bounded), so
  memory never holds the N×N matrix.
- **Outliers**: an image's mean cosine similarity to the nearest images of its own class in its
  own split; the least similar part of each split is flagged.

What `make heads EXCLUDE=audit.csv` drops from train is thus decided by train alone: no label of
the scored split chooses a training row. Leakage (a train near-copy of another split's image) is
written apart, to audit_leakage.csv: excluding those rows is its own choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cleanlab
import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors

import cache
from audit.config import AuditConfig
from classify import linear
from extract.feature_source import LAST
from workflow.errors import WorkflowError

COLUMNS = ["id", "split", "issue", "score", "given_label", "suggested_label", "paired_id"]
ISSUES = ("label", "leakage", "duplicate", "outlier")  # audit.csv's order
WORKING_MEMORY_MB = 256  # each block of the neighbour search
DEFAULTS = AuditConfig()


class AuditError(WorkflowError):
    """The cache cannot be audited (a class with a single image, say)."""


@dataclass
class Pooled:
    """Every split's rows together."""

    ids: list[str]
    splits: np.ndarray  # each row's split name
    labels: np.ndarray
    views: np.ndarray  # (N, K, D), L2-normalised: each image, then its augmented views
    class_names: list[str]

    @property
    def features(self) -> np.ndarray:
        """(N, D): each image as it is."""
        return self.views[:, 0]


def pooled(cache_path) -> Pooled:
    """Every split's rows, the last layer's block alone where the cache has several: the similarity
    threshold and the label model were measured on it, and it is the smallest of the wide blocks."""
    blocks = [LAST] if LAST in cache.info(cache_path)["blocks"] else None
    parts = [(name, cache.read_split(cache_path, name, views=True, blocks=blocks)) for name in cache.splits(cache_path)]
    views = np.concatenate([data.features for _, data in parts]).astype(np.float32)
    views /= np.maximum(np.linalg.norm(views, axis=2, keepdims=True), 1e-12)
    return Pooled(
        ids=[item for _, data in parts for item in data.ids],
        splits=np.array([name for name, data in parts for _ in data.ids]),
        labels=np.concatenate([data.labels for _, data in parts]),
        views=views,
        class_names=cache.info(cache_path)["class_names"],
    )


def out_of_fold(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, config: AuditConfig = DEFAULTS
) -> np.ndarray:
    """(N, K) probabilities, each row's from a model fitted on folds without it. `groups` keeps the
    rows of one image (its views) in one fold: a model that saw a view of an image would recall its
    label, right or wrong."""
    images = np.unique(groups, return_index=True)[1]
    folds = min(config.folds, int(np.bincount(labels[images]).min()))
    if folds < 2:
        raise AuditError("every class needs at least two images to audit its labels")
    with linear.fold_threads():
        return cross_val_predict(
            linear.logreg_pipeline(config.c, config.seed),
            features,
            labels,
            groups=groups,
            cv=StratifiedGroupKFold(folds, shuffle=True, random_state=config.seed),
            method="predict_proba",
            n_jobs=config.jobs,
        )


def label_issues(cache_path, config: AuditConfig = DEFAULTS, data: Pooled | None = None) -> pd.DataFrame:
    """Each split's images whose given label is unlikely, ranked within their split. Train's come
    from out-of-fold probabilities over train alone, so no other split's labels decide which
    train images are listed (and dropped by `EXCLUDE`); every other split's come from the model
    fitted on all of train, which never saw them."""
    data = data or pooled(cache_path)
    train = np.flatnonzero(data.splits == "train")
    if not len(train):
        raise AuditError("the cache has no train split to audit labels against")
    probabilities = np.zeros((len(data.ids), len(data.class_names)))
    probabilities[train] = _image_means(data, train, out_of_fold(*_every_view(data, train), config))
    others = np.flatnonzero(data.splits != "train")
    if len(others):
        features, labels, _ = _every_view(data, train)
        with linear.fold_threads():
            model = linear.logreg_pipeline(config.c, config.seed).fit(features, labels)
        probabilities[others] = _image_means(data, others, model.predict_proba(_every_view(data, others)[0]), model)
    frames = []
    for split in dict.fromkeys(data.splits):
        rows = np.flatnonzero(data.splits == split)
        found = rows[
            cleanlab.filter.find_label_issues(
                data.labels[rows], probabilities[rows], return_indices_ranked_by="self_confidence", n_jobs=1
            )
        ]
        given = probabilities[found, data.labels[found]]
        suggested = [data.class_names[k] for k in probabilities[found].argmax(axis=1)]
        frames.append(_frame(data, found, "label", 1.0 - given, suggested=suggested))
    return pd.concat(frames, ignore_index=True).sort_values("score", ascending=False, kind="stable")


def _every_view(data: Pooled, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, image) of every view of the images at `rows`: one row per view."""
    views, dim = data.views.shape[1:]
    return data.views[rows].reshape(-1, dim), np.repeat(data.labels[rows], views), np.repeat(rows, views)


def _image_means(data: Pooled, rows: np.ndarray, per_view: np.ndarray, model=None) -> np.ndarray:
    """(len(rows), classes): each image's probabilities, the mean over its views, in every class's
    column (a `model` names the columns it has; out-of-fold ones cover train's classes in order)."""
    views = data.views.shape[1]
    columns = model.classes_ if model is not None else np.unique(data.labels[data.splits == "train"])
    out = np.zeros((len(rows), len(data.class_names)))
    out[:, columns] = per_view.reshape(len(rows), views, -1).mean(axis=1)
    return out


def near_duplicates(cache_path, config: AuditConfig = DEFAULTS, data: Pooled | None = None) -> pd.DataFrame:
    """Pairs of images at least `config.similarity` alike: "leakage" across splits (the first split
    in train, validation, test order is `id`), "duplicate" within one."""
    data = data or pooled(cache_path)
    search = NearestNeighbors(radius=1.0 - config.similarity, metric="cosine", algorithm="brute", n_jobs=config.jobs)
    with sklearn.config_context(working_memory=WORKING_MEMORY_MB):
        distances, neighbours = search.fit(data.features).radius_neighbors(data.features)
    pairs = [
        (i, int(j), 1.0 - float(d))
        for i, (row_d, row_j) in enumerate(zip(distances, neighbours, strict=True))
        for d, j in zip(row_d, row_j, strict=True)
        if j > i
    ]
    first, second, similarity = (np.array(column) for column in zip(*pairs, strict=True)) if pairs else ([], [], [])
    across = data.splits[first] != data.splits[second] if pairs else np.zeros(0, bool)
    frames = [
        _frame(data, np.asarray(first)[mask], issue, np.asarray(similarity)[mask], paired=np.asarray(second)[mask])
        for issue, mask in (("leakage", across), ("duplicate", ~across))
    ]
    return pd.concat(frames, ignore_index=True)


def outliers(
    cache_path, config: AuditConfig = DEFAULTS, data: Pooled | None = None, listed: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """The images least like their `config.neighbours` nearest of their own class in their own split,
    the `config.outlier_fraction` most isolated of each split; score 1 - mean cosine similarity.
    Ids `listed` already (as label issues: a mislabelled image is far from its given class too)
    are passed over."""
    data = data or pooled(cache_path)
    isolation = np.zeros(len(data.ids))
    for split in dict.fromkeys(data.splits):  # within its own split: no other split's labels count
        for label in np.unique(data.labels):
            members = np.flatnonzero((data.labels == label) & (data.splits == split))
            if len(members) < 2:
                continue
            search = NearestNeighbors(n_neighbors=min(config.neighbours + 1, len(members)), metric="cosine")
            with sklearn.config_context(working_memory=WORKING_MEMORY_MB):
                distances, _ = search.fit(data.features[members]).kneighbors(data.features[members])
            isolation[members] = distances[:, 1:].mean(axis=1)  # the first is the image itself
    flagged = []
    for split in dict.fromkeys(data.splits):
        rows = np.flatnonzero(data.splits == split)
        count = int(round(config.outlier_fraction * len(rows)))
        candidates = [i for i in rows[np.argsort(-isolation[rows], kind="stable")] if data.ids[i] not in listed]
        flagged.extend(candidates[:count])
    flagged = np.array(flagged, dtype=np.int64)
    return _frame(data, flagged, "outlier", isolation[flagged])


def audit(cache_path, config: AuditConfig = DEFAULTS) -> pd.DataFrame:
    """Every finding, grouped by issue in ISSUES order, most suspicious first within each."""
    data = pooled(cache_path)
    labels = label_issues(cache_path, config, data)
    found = pd.concat(
        [
            labels,
            near_duplicates(cache_path, config, data),
            outliers(cache_path, config, data, frozenset(labels["id"])),
        ],
        ignore_index=True,
    )
    order = found["issue"].map(ISSUES.index)
    return (
        found.assign(_order=order)
        .sort_values(["_order", "score"], ascending=[True, False], kind="stable")[COLUMNS]
        .reset_index(drop=True)
    )


def _frame(
    data: Pooled,
    rows: np.ndarray,
    issue: str,
    scores: np.ndarray,
    suggested: list[str] | None = None,
    paired: np.ndarray | None = None,
) -> pd.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "id": [data.ids[i] for i in rows],
            "split": data.splits[rows],
            "issue": issue,
            "score": np.asarray(scores, dtype=np.float64),
            "given_label": [data.class_names[data.labels[i]] for i in rows],
            "suggested_label": suggested if suggested is not None else [""] * len(rows),
            "paired_id": [data.ids[j] for j in paired] if paired is not None else [""] * len(rows),
        },
        columns=COLUMNS,
    )
    return frame.sort_values("score", ascending=False, kind="stable")
