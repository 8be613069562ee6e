"""The one rule for which train images make the choices (the dev rows) where there is no test
split: per class, the `fraction` of its train images with the lowest sha256 of their id. It is
deterministic, stratified, and an image keeps its side when others are added. Images that belong
together (`classify.groups`: the audit's confirmed near-copies, a GROUPS file) are drawn as one.

It lives below classify, which follows it (`classify.protocol`), because extraction needs it
too: an int8 engine is calibrated on the other train rows (the fit rows), and checked on these.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from extract.reading.sampling import hash_order

DEV_FRACTION = 0.1  # the default of every stage's DEV_FRACTION


def dev_ids(
    ids: list[str], labels: np.ndarray, fraction: float, group_of: dict[str, str] | None = None
) -> frozenset[str]:
    """Per class, the `fraction` of ids with the lowest sha256 (at least one where the class has two).
    With `group_of` ({id: group}), a group is drawn whole in its place in that order (the sha256 of
    its name), into dev or not; a group across classes goes where its first class draws it."""
    group_of = group_of or {}
    key_of = {item: f"group:{group_of[item]}" if item in group_of else item for item in ids}
    members: dict[str, list[str]] = {}
    for item in ids:
        members.setdefault(key_of[item], []).append(item)
    label_of = dict(zip(ids, labels.tolist(), strict=True))
    fit_left = Counter(label_of.values())  # each class's images not drawn yet
    chosen: set[str] = set()
    for label in np.unique(labels):
        own = [ids[i] for i in np.flatnonzero(labels == label)]
        count = min(len(own) - 1, max(1, round(fraction * len(own))))
        keys = list(dict.fromkeys(key_of[item] for item in own if item not in chosen))
        taken = sum(item in chosen for item in own)
        for key in (keys[i] for i in hash_order(keys)):
            if taken >= count:
                break
            drawn = Counter(label_of[item] for item in members[key])
            if any(fit_left[other] <= n for other, n in drawn.items()):
                continue  # a group that would take a class's last fit image stays in fit (never without groups)
            chosen.update(members[key])
            fit_left.subtract(drawn)
            taken += drawn[label]
    return frozenset(chosen)
