"""What a method was trained on, beyond the cache's scored split, as every method's metrics.json
entry records it (`trained_on`): the report compares methods on it and names what differs, so
that a head fitted without some train rows is never compared as if it saw them all."""

from __future__ import annotations

from extract.network.feature_source import source_in
from extract.reading.hashes import digest


def trained_on(
    meta: dict,
    class_weight: str,
    feature_blocks: list[str],
    excluded: frozenset[str] = frozenset(),
    precision: str | None = None,
    views: int | str | None = None,
) -> dict:
    """`meta`: the cache's info; `excluded`: the train ids left out of the fit rows; `precision`
    and `views` default to the cache's (a head's features are the cache's views in its engine's
    arithmetic; an end-to-end method says its own)."""
    return {
        "backbone": source_in(meta).backbone,
        "excluded": {"train_rows": len(excluded), "ids_sha256": digest(sorted(excluded))},
        "class_weight": class_weight,
        "feature_blocks": list(feature_blocks),
        "precision": precision or meta.get("precision", "float32"),
        "backbone_weights": meta.get("weights_sha256"),
        "views": meta.get("views", 1) if views is None else views,
    }
