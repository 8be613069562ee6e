"""Every method that ran, from one or several output folders, on the same scored images.

A method counts when its metrics match its folder's cache (same fingerprint) and its scored
probabilities are there. Several folders (e.g. 160 and 224 px) join one report only when their
scored splits hold the same images with the same labels; the methods are then aligned on one
image order, the sorted ids, and the folders taken in sorted order: the report is the same
whatever the order of RUNS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cache
from classify import scored
from classify.heads import REGISTRY
from extract.network.feature_source import recorded_source
from workflow.errors import WorkflowError
from workflow.paths import FINETUNED, Paths

TUTORIAL = "tutorial"  # the tutorial's recipe, timed (make report BASELINE=1)
# every head, as it is and with test-time augmentation (`<head>_tta`), in the registry's order
LABELS = {
    name: label
    for head, cls in REGISTRY.items()
    for name, label in ((head, cls.title), (f"{head}_tta", f"{cls.title}, test-time augmentation"))
}
USES_CACHE = tuple(LABELS)
LABELS |= {FINETUNED: "fine-tuned end to end", TUTORIAL: "tutorial recipe (frozen base in fit)"}
METHODS = tuple(LABELS)  # the table's order


@dataclass
class Method:
    name: str  # a head (or `<head>_tta`), finetune or tutorial
    label: str  # as the report shows it
    out: Path  # the output folder it came from
    meta: dict  # that folder's cache.info
    entry: dict  # its metrics.json entry
    scored: scored.Scored  # aligned on the report's image order

    @property
    def trained_on(self) -> dict:
        """What its training saw (`classify.seen.trained_on`); empty for an entry from before it was recorded."""
        return self.entry.get("trained_on") or {}

    @property
    def excluded_rows(self) -> int | None:
        """Train images left out of its fit rows (EXCLUDE); None where not recorded."""
        return self.trained_on.get("excluded", {}).get("train_rows")

    @property
    def extraction_seconds(self) -> float:
        """The one-off extraction a cached head needs (every split); none for end-to-end methods."""
        return sum(s["seconds"] for s in self.meta["splits"].values()) if self.name in USES_CACHE else 0.0

    @property
    def precision(self) -> str:
        """The arithmetic its features came from: the cache's engine (int8 or float32) for cached heads;
        end-to-end methods run the Keras model in float32."""
        return self.meta.get("precision", "float32") if self.name in USES_CACHE else "float32"

    @property
    def total_seconds(self) -> float:
        """What one run costs from the images: extraction (cached heads) plus training."""
        return self.extraction_seconds + float(np.mean(self.scored.train_seconds))


def metrics_files(paths: Paths) -> dict[Path, tuple[str, ...]]:
    return {
        paths.heads_metrics: USES_CACHE,
        paths.finetune_metrics: (FINETUNED,),
        paths.baseline_metrics: (TUTORIAL,),
    }


def methods_in(out: Path) -> list[Method]:
    """Every method of one output folder whose metrics and scored probabilities match its cache."""
    paths = Paths(out)
    meta = cache.info(paths.cache)
    found = {}
    for path, names in metrics_files(paths).items():
        entries = json.loads(path.read_text()) if path.exists() else {}
        for name in names:
            entry = entries.get(name)
            if entry and entry.get("cache_fingerprint") == meta["fingerprint"] and paths.scored(name).exists():
                weighted = (entry.get("class_weight") or {}).get("setting") == "balanced"
                label = LABELS[name] + (", balanced class weights" if weighted else "")
                method = Method(name, label, Path(out), meta, entry, scored.load(paths.scored(name)))
                if method.excluded_rows:  # a head fitted without some train rows says so wherever it is named
                    method.label += f", {method.excluded_rows} train images excluded"
                found[name] = method
    return [found[name] for name in METHODS if name in found]


def collect(outs: list[Path], backbone: str | None = None) -> list[Method]:
    """The methods of every folder (in sorted order), labelled apart when there are several, aligned on
    one image order; `backbone` (BACKBONE), where set, must be every folder's cache's."""
    outs = sorted(set(outs), key=str)
    for out in outs:
        recorded_source(cache.info(Paths(out).cache), backbone, f"the cache in {out}")
    methods = [method for out in outs for method in methods_in(out)]
    if not methods:
        raise WorkflowError(f"no scored methods in {', '.join(map(str, outs))}: run `make heads` (and `make finetune`)")
    if len(outs) > 1:
        sizes = [cache.info(Paths(out).cache)["image_size"] for out in outs]
        distinct = len(set(sizes)) == len(sizes)
        for method in methods:
            where = f"{method.meta['image_size']} px" if distinct else str(method.out)
            method.label = f"{method.label}, {where}"
    _align(methods)
    return methods


def differing(methods: list[Method]) -> list[str]:
    """The keys of `trained_on` whose values are not the same for every method (one not recorded
    differs from one recorded)."""
    keys = sorted({key for method in methods for key in method.trained_on})
    return [key for key in keys if len({json.dumps(m.trained_on.get(key), sort_keys=True) for m in methods}) > 1]


def _align(methods: list[Method]) -> None:
    """Put every method's scored images in the order of their sorted ids; refuse different images."""
    first = methods[0].scored
    order = {item: position for position, item in enumerate(sorted(first.ids))}
    for method in methods:
        s = method.scored
        if sorted(s.ids) != sorted(first.ids) or s.split != first.split:
            raise WorkflowError(
                f"{method.label} ({method.out}) was scored on other images than {methods[0].label} "
                f"({methods[0].out}): {len(s.ids)} {s.split} images against {len(first.ids)} {first.split}; "
                "a report compares methods on the same images only"
            )
        permutation = np.argsort([order[item] for item in s.ids])
        s.ids = [s.ids[i] for i in permutation]
        s.labels = s.labels[permutation]
        s.probabilities = s.probabilities[:, permutation]
        if not np.array_equal(s.labels, first.labels):  # the first is put in order first
            raise WorkflowError(f"{method.label} ({method.out}) has other labels for the same images")
