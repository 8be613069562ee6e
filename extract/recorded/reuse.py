"""What a rebuild can take from the cache it replaces: the rows of files whose content it has seen.

A file's features depend only on its bytes and the features key (model, weights, size,
preprocessing, engine, dtype). So when the data changes but the features key does not, every
file whose content hash the previous cache holds keeps its row (or its reason for being
skipped), and only new or changed files go through the model. Labels, ids and order come from
the new listing, so the result is the cache a fresh build would write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cache
from extract.reading.hashes import UNREADABLE
from extract.reading.sources import Split
from extract.recorded import identity


@dataclass
class Outcome:
    """What became of one input."""

    features: np.ndarray | None  # (views, D) of this run; None if skipped, or reused from the previous cache
    skipped: str | None  # why it was left out
    warning: str | None  # libjpeg's complaint about damaged data it decoded anyway


@dataclass
class Reuse:
    path: Path
    fingerprint: str  # the previous cache's: with it, what is new is decided
    rows: dict[str, tuple[str, int]]  # content hash → (split, row) in the previous cache
    skips: dict[str, str]  # content hash → why the previous cache left that content out
    warnings: dict[str, str]  # content hash → libjpeg's warning on a row kept anyway
    seconds_per_input: float  # the previous cache's extraction cost per input

    @classmethod
    def of(cls, path: Path, attrs: dict) -> Reuse | None:
        """The previous cache's rows, if it is intact and its features are what this run computes."""
        try:
            meta = cache.info(path)
            if identity.features_key(meta) != identity.features_key(attrs):
                return None
            cache.verify(path)
            rows, skips, warnings = {}, {}, {}
            for split, counts in meta["splits"].items():
                content, skipped_content = cache.contents(path, split)
                rows.update((item, (split, row)) for row, item in enumerate(content) if item)
                by_id = dict(zip(cache.ids(path, split), content, strict=True))
                warnings.update((by_id[item], why) for item, why in counts["warnings"].items())
                reasons = [reason for _, reason in cache.skipped(path, split)]
                # an unreadable file (a broken link) is tried again: it may be back
                for item, why in zip(skipped_content, reasons, strict=True):
                    if item and item != UNREADABLE:
                        skips[item] = why
        except (cache.CacheError, KeyError):
            return None
        splits = meta["splits"].values()
        per_input = sum(s["seconds"] for s in splits) / max(1, sum(s["n_inputs"] for s in splits))
        return cls(Path(path), meta["fingerprint"], rows, skips, warnings, per_input)

    def known(self, content: str) -> bool:
        return content in self.rows or content in self.skips

    def outcome(self, content: str) -> Outcome:
        """A known content's outcome; its features are read in blocks by `features`."""
        return Outcome(None, self.skips.get(content) if content not in self.rows else None, self.warnings.get(content))

    def new(self, split: Split) -> Split:
        """The inputs of `split` whose content the previous cache has not seen, in order."""
        return split.subset([i for i, item in enumerate(split.content) if not self.known(item)])

    def features(self, contents: list[str]) -> np.ndarray:
        """(n, views, D): the previous cache's features for these (known, not skipped) contents, in order."""
        places = [self.rows[item] for item in contents]
        out = None
        for split in {split for split, _ in places}:
            wanted = [i for i, (name, _) in enumerate(places) if name == split]
            rows = cache.read_rows(self.path, split, np.array([places[i][1] for i in wanted]))
            if out is None:
                out = np.empty((len(places), *rows.shape[1:]), rows.dtype)
            out[wanted] = rows
        return out
