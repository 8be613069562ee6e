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
- **Duplicates and leakage**: a pair is a copy for one of `REASONS`. Byte-identical files (their
  content hashes in the cache) always are. Otherwise the pair must look alike to the network,
  one among the other's `NEAREST` nearest at cosine similarity of the features at least
  `CANDIDATE` (exact, block by block, so memory never holds the N×N matrix), and be the same
  picture: its grey thumbnails correlate at least `PIXEL` (`audit.pixels`). A fixed cosine
  alone cannot serve every kind of image: to an ImageNet network every stained cell looks alike
  (half of pbc_sample's test images had a train image at cosine ≥ 0.9, all different cells),
  while photos or MRI slices are close only when copied. `SIMILARITY` restores it as an
  override: pairs at least that alike count as well, by feature similarity alone.
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
from audit import pixels
from audit.config import AuditConfig
from classify import linear
from extract.network.feature_source import recorded_source, source_in
from workflow.errors import WorkflowError

COLUMNS = ["id", "split", "issue", "score", "given_label", "suggested_label", "paired_id", "reason", "pixel_score"]
ISSUES = ("label", "leakage", "duplicate", "outlier")  # audit.csv's order
REASONS = ("byte copy", "pixel match", "feature similarity")  # why a pair is a copy, strongest first
# Measured on the edits of bench/experiments/near_copies.py and both shared datasets (BENCHMARKS.md,
# issue 33): every edit of a photo or a cell stays at cosine >= CANDIDATE and its thumbnails
# correlate >= PIXEL; the most alike distinct images of pbc_sample correlate below it.
CANDIDATE = 0.8
PIXEL = 0.9
NEAREST = 20  # the candidates of an image: its nearest this many at least CANDIDATE alike
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
    contents: list[str]  # each image file's content hash ("" where the cache has none)

    @property
    def features(self) -> np.ndarray:
        """(N, D): each image as it is."""
        return self.views[:, 0]


def pooled(cache_path) -> Pooled:
    """Every split's rows, the last layer's block alone where the cache has several: the similarity
    threshold and the label model were measured on it, and it is the smallest of the wide blocks."""
    info = cache.info(cache_path)
    last = source_in(info).network.last
    blocks = [last] if last in info["blocks"] else None
    parts = [(name, cache.read_split(cache_path, name, views=True, blocks=blocks)) for name in cache.splits(cache_path)]
    views = np.concatenate([data.features for _, data in parts]).astype(np.float32)
    views /= np.maximum(np.linalg.norm(views, axis=2, keepdims=True), 1e-12)
    return Pooled(
        ids=[item for _, data in parts for item in data.ids],
        splits=np.array([name for name, data in parts for _ in data.ids]),
        labels=np.concatenate([data.labels for _, data in parts]),
        views=views,
        class_names=cache.info(cache_path)["class_names"],
        contents=[item for name, _ in parts for item in cache.contents(cache_path, name)[0]],
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


@dataclass
class Pairs:
    """Pairs of rows (first < second) and their features' cosine similarity."""

    first: np.ndarray
    second: np.ndarray
    similarity: np.ndarray


@dataclass
class Neighbourhood:
    """What the audit needs of the N × N cosines, from one pass over them (the product is most of
    the audit's time on a large cache; outliers and near-copies each read it once before)."""

    candidates: Pairs  # each image's `NEAREST` most alike at least `CANDIDATE`
    isolation: np.ndarray  # (N,) 1 - mean cosine of each image's nearest of its own class and split


def neighbourhood(data: Pooled, neighbours: int) -> Neighbourhood:
    """The copy candidates and each image's isolation, the cosines a block of rows at a time (one
    matrix product: the rows are L2-normalised), so memory never holds the N × N matrix.

    Candidates: a row sorted only where more than `NEAREST` pass, which is twice as fast as a
    search that sorts every row where few images look alike (photos), and no slower where all do
    (cells). Isolation looks within the image's own split and class alone ("kin"), so no other
    split's labels count; an image alone there has none. The rows are taken in kin order, so that
    each row's kin are one run of columns: the isolation then reads those alone."""
    kin = np.unique(np.stack([data.splits, data.labels.astype(str)]), axis=1, return_inverse=True)[1].ravel()
    order = np.argsort(kin, kind="stable")
    features, kin = data.features[order], kin[order]
    every_kin = np.arange(kin.max() + 1 if len(kin) else 0)
    first_of, last_of = np.searchsorted(kin, every_kin), np.searchsorted(kin, every_kin, side="right")
    rows = max(1, WORKING_MEMORY_MB * 2**20 // (4 * len(features)))
    found, isolation = [], np.zeros(len(features))
    for start in range(0, len(features), rows):
        sims = features[start : start + rows] @ features.T
        sims[np.arange(len(sims)), start + np.arange(len(sims))] = -np.inf  # not an image with itself
        for k in np.unique(kin[start : start + len(sims)]):
            own = slice(max(first_of[k], start) - start, min(last_of[k], start + len(sims)) - start)
            columns = sims[own, first_of[k] : last_of[k]]
            isolation[start + own.start : start + own.stop] = _isolation(columns, neighbours)
        found.append(_alike(sims, start, CANDIDATE, NEAREST))
    first, second, alike = (np.concatenate(part) for part in zip(*found, strict=True))
    unsorted = np.empty(len(order), np.float64)
    unsorted[order] = isolation
    return Neighbourhood(_pairs(order[first], order[second], alike), unsorted)


def _isolation(sims: np.ndarray, k: int) -> np.ndarray:
    """1 - the mean cosine of each row's `k` most alike columns (all of them where fewer), each row's
    own column at -inf."""
    others = sims.shape[1] - 1
    if others < 1:
        return np.zeros(len(sims))
    k = min(k, others)
    nearest = np.partition(sims, -k, axis=1)[:, -k:] if k < others else sims
    return 1.0 - np.where(np.isfinite(nearest), nearest, 0.0).sum(axis=1) / k


def _alike(sims: np.ndarray, start: int, similarity: float, nearest: int) -> tuple[np.ndarray, ...]:
    """(row, column, cosine) of each row's `nearest` most alike columns at least `similarity` alike."""
    crowded = np.flatnonzero((sims >= similarity).sum(axis=1) > nearest)
    if len(crowded):  # keep their `nearest` most alike only
        cut = np.partition(sims[crowded], -nearest, axis=1)[:, -nearest][:, None]
        sims[crowded] = np.where(sims[crowded] >= cut, sims[crowded], -np.inf)
    row, column = np.nonzero(sims >= similarity)
    return start + row, column, sims[row, column]


def feature_pairs(data: Pooled, similarity: float, jobs: int = -1) -> Pairs:
    """Every pair of images at least `similarity` alike to the network (the `SIMILARITY` override:
    a radius alone, which where every image looks alike, as stained cells do to an ImageNet
    network, returns a good part of all N² pairs)."""
    search = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=jobs).fit(data.features)
    with sklearn.config_context(working_memory=WORKING_MEMORY_MB):
        distances, neighbours = search.radius_neighbors(data.features, radius=1.0 - similarity)
    first = np.repeat(np.arange(len(neighbours)), [len(row) for row in neighbours])
    second = np.concatenate(list(neighbours)).astype(np.int64) if len(neighbours) else np.zeros(0, np.int64)
    alike = 1.0 - (np.concatenate(list(distances)) if len(distances) else np.zeros(0))
    keep = (alike >= similarity) & (first != second)
    return _pairs(first[keep], second[keep], alike[keep])


def _pairs(first: np.ndarray, second: np.ndarray, alike: np.ndarray) -> Pairs:
    """Each unordered pair once (found from both of its images, or once)."""
    low, high = np.minimum(first, second), np.maximum(first, second)
    once = np.unique(np.stack([low, high]), axis=1, return_index=True)[1]
    return Pairs(low[once], high[once], alike[once])


def byte_copies(data: Pooled) -> Pairs:
    """Every pair of images whose files are byte-identical, whatever the network makes of them."""
    rows_of: dict[str, list[int]] = {}
    for i, content in enumerate(data.contents):
        if content:
            rows_of.setdefault(content, []).append(i)
    pairs = np.array([(a, b) for rows in rows_of.values() for k, a in enumerate(rows) for b in rows[k + 1 :]])
    first, second = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    similarity = (data.features[first] * data.features[second]).sum(axis=1)
    return Pairs(first, second, similarity)


def copies(
    cache_path, config: AuditConfig = DEFAULTS, data: Pooled | None = None, near: Neighbourhood | None = None
) -> pd.DataFrame:
    """Every pair of copies with its reason and pixel correlation (NaN where not needed or an image
    cannot be read), as rows of audit.csv's columns but `issue`."""
    data = data or pooled(cache_path)
    near = near or neighbourhood(data, config.neighbours)
    override = config.similarity if config.similarity is not None else 1.0
    found = [byte_copies(data), near.candidates]
    if config.similarity is not None:
        found.append(feature_pairs(data, config.similarity, config.jobs))
    both = [np.concatenate([getattr(pairs, name) for pairs in found]) for name in ("first", "second", "similarity")]
    once = np.unique(np.stack(both[:2]), axis=1, return_index=True)[1]  # a pair found more than one way
    pairs = Pairs(*(column[once] for column in both))
    byte = np.array(
        [
            data.contents[a] != "" and data.contents[a] == data.contents[b]
            for a, b in zip(pairs.first, pairs.second, strict=True)
        ],
        dtype=bool,
    )
    candidate = pairs.similarity >= CANDIDATE
    pixel_score = _pixel_scores(data, pairs, config, needed=~byte & candidate)
    reason = np.select([byte, candidate & (pixel_score >= PIXEL), pairs.similarity >= override], REASONS, default="")
    kept = reason != ""
    return _frame(
        data,
        pairs.first[kept],
        "",
        pairs.similarity[kept],
        paired=pairs.second[kept],
        reason=reason[kept],
        pixel_score=pixel_score[kept],
    )


def _pixel_scores(data: Pooled, pairs: Pairs, config: AuditConfig, needed: np.ndarray) -> np.ndarray:
    """(P,) the thumbnail correlation of the `needed` pairs (NaN for the others, and where an image
    has no pixels): the images' fingerprints made once and kept beside the cache."""
    scores = np.full(len(pairs.first), np.nan)
    rows = np.unique(np.concatenate([pairs.first[needed], pairs.second[needed]]))
    if not len(rows):
        return scores
    store = pixels.PixelStore(config.paths.pixels)
    ids = [data.ids[i] for i in rows]
    grey, known = store.fingerprints(
        cache.info(config.paths.cache), config.paths.out, ids, pixels.keys_of(ids, [data.contents[i] for i in rows])
    )
    store.save()
    standard = np.zeros((len(data.ids), grey.shape[1]), np.float32)
    standard[rows] = pixels.standardised(grey)
    readable = np.zeros(len(data.ids), bool)
    readable[rows] = known
    both = needed & readable[pairs.first] & readable[pairs.second]
    scores[both] = pixels.correlation(standard, pairs.first[both], pairs.second[both])
    return scores


def near_duplicates(
    cache_path, config: AuditConfig = DEFAULTS, data: Pooled | None = None, near: Neighbourhood | None = None
) -> pd.DataFrame:
    """The `copies`: "leakage" across splits (the first split in train, validation, test order is
    `id`), "duplicate" within one."""
    data = data or pooled(cache_path)
    found = copies(cache_path, config, data, near)
    split_of = dict(zip(data.ids, data.splits, strict=True))
    across = np.array(
        [split_of[a] != split_of[b] for a, b in zip(found["id"], found["paired_id"], strict=True)], dtype=bool
    )
    found["issue"] = np.where(across, "leakage", "duplicate")
    return found.sort_values("score", ascending=False, kind="stable")


def outliers(
    cache_path,
    config: AuditConfig = DEFAULTS,
    data: Pooled | None = None,
    listed: frozenset[str] = frozenset(),
    near: Neighbourhood | None = None,
) -> pd.DataFrame:
    """The images least like their `config.neighbours` nearest of their own class in their own split,
    the `config.outlier_fraction` most isolated of each split; score 1 - mean cosine similarity.
    Ids `listed` already (as label issues: a mislabelled image is far from its given class too)
    are passed over."""
    data = data or pooled(cache_path)
    isolation = (near or neighbourhood(data, config.neighbours)).isolation
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
    recorded_source(cache.info(cache_path), config.backbone, "the cache")
    data = pooled(cache_path)
    near = neighbourhood(data, config.neighbours)
    labels = label_issues(cache_path, config, data)
    found = pd.concat(
        [
            labels,
            near_duplicates(cache_path, config, data, near),
            outliers(cache_path, config, data, frozenset(labels["id"]), near),
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
    reason: np.ndarray | None = None,
    pixel_score: np.ndarray | None = None,
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
            "reason": reason if reason is not None else [""] * len(rows),
            "pixel_score": pixel_score if pixel_score is not None else np.full(len(rows), np.nan),
        },
        columns=COLUMNS,
    )
    return frame.sort_values("score", ascending=False, kind="stable")
