"""Issue 33: can the near-copy candidates (each image's 20 nearest at cosine >= 0.8) be searched in
fewer dimensions? The exact search against one in the first PCA components (the pairs then kept
by their exact cosine): seconds, and how many of the exact candidates it finds.

    python -m bench.experiments.candidate_search <cache out> [<cache out> ...]
    python -m bench.experiments.candidate_search product <cache out>
        the exact search's parts: the matrix product 2,048 rows at a time with a threshold, and with
        every row sorted
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from audit import find
from workflow.paths import Paths


def reduced_pairs(data: find.Pooled, dims: int) -> set[tuple[int, int]]:
    features = PCA(dims, svd_solver="randomized", random_state=0).fit_transform(data.features)
    search = NearestNeighbors(n_neighbors=find.NEAREST, metric="cosine", algorithm="brute", n_jobs=1).fit(features)
    neighbours = search.kneighbors(return_distance=False)
    first = np.repeat(np.arange(len(neighbours)), neighbours.shape[1])
    second = neighbours.ravel()
    alike = (data.features[first] * data.features[second]).sum(axis=1) >= find.CANDIDATE
    return {(min(a, b), max(a, b)) for a, b in zip(first[alike], second[alike], strict=True)}


def product(out: Path) -> None:
    features = np.ascontiguousarray(find.pooled(Paths(out).cache).features, dtype=np.float32)
    for name, step in (
        ("product + threshold", lambda sims: (sims >= find.CANDIDATE).sum()),
        ("product + every row sorted", lambda sims: np.argpartition(-sims, find.NEAREST, axis=1)),
    ):
        started = time.perf_counter()
        for start in range(0, len(features), 2048):
            step(features[start : start + 2048] @ features.T)
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "product":
        product(Path(sys.argv[2]))
        sys.exit()
    for out in map(Path, sys.argv[1:]):
        data = find.pooled(Paths(out).cache)
        started = time.perf_counter()
        exact = find.neighbourhood(data, 10).candidates
        seconds = time.perf_counter() - started
        exact = set(zip(exact.first.tolist(), exact.second.tolist(), strict=True))
        print(out.name, f"exact {seconds:.1f} s, {len(exact)} candidates", flush=True)
        for dims in (64, 128, 256):
            started = time.perf_counter()
            found = reduced_pairs(data, dims)
            seconds = time.perf_counter() - started
            print(f"  pca {dims}: {seconds:.1f} s, {len(found & exact)} of the exact, {len(found - exact)} more")
