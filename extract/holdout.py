"""The one rule for which train images make the choices (the dev rows) where there is no test
split: per class, the `fraction` of its train images with the lowest sha256 of their id. It is
deterministic, stratified, and an image keeps its side when others are added.

It lives below classify, which follows it (`classify.protocol`), because extraction needs it
too: an int8 engine is calibrated on the other train rows (the fit rows), and checked on these.
"""

from __future__ import annotations

import numpy as np

from extract.sampling import hash_order

DEV_FRACTION = 0.1  # the default of every stage's DEV_FRACTION


def dev_ids(ids: list[str], labels: np.ndarray, fraction: float) -> frozenset[str]:
    """Per class, the `fraction` of ids with the lowest sha256 (at least one where the class has two)."""
    chosen = set()
    for label in np.unique(labels):
        members = [ids[i] for i in np.flatnonzero(labels == label)]
        count = min(len(members) - 1, max(1, round(fraction * len(members))))
        chosen.update(members[i] for i in hash_order(members)[:count])
    return frozenset(chosen)
