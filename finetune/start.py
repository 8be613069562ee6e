"""Where fine-tuning starts: a cached head as a Keras head on the pooled features.

The searched recipe starts from the head whose saved run had the lowest loss on choice rows it
did not tune on (`classify.crossfit`), among the heads with a Keras form (`Head.network`:
logistic regression becomes the Dense head's last layer, its standardisation folded into the
weights as the export stage does), so the model before any step gives that head's probabilities.
"""

from __future__ import annotations

import json

import keras

from classify import saved
from classify.crossfit import untuned_choice_loss
from classify.heads import REGISTRY, HeadError
from workflow.paths import Paths


def best_head(paths: Paths) -> str:
    """The saved head with a Keras form whose saved run had the lowest log loss on choice rows it did
    not tune on (`classify.crossfit`): a head that chose its epoch on the choice rows would
    otherwise win by fitting them."""
    entries = json.loads(paths.heads_metrics.read_text()) if paths.heads_metrics.exists() else {}
    losses = {
        name: untuned_choice_loss(paths.out, name, saved.load_record(paths.out, name), entries[name])
        for name, head in REGISTRY.items()
        if name in entries and saved.model_path(paths, name).exists() and head.fuses
    }
    if not losses:
        raise saved.HeadMismatchError(f"no saved head in {paths.out}: run `make heads` first")
    return min(losses, key=losses.get)


def start_head(out, name: str, fingerprint: str) -> keras.Model:
    """A fresh Keras copy of the saved head `name`, in training form: a head trained by epochs as
    saved, or logistic regression folded into a Dense layer under the same dropout as the Dense
    head's (dropout is off at inference)."""
    model, record = saved.load(out, name, fingerprint)
    try:
        return model.network(dropout=record["config"]["dropout"])
    except HeadError as err:
        raise saved.HeadMismatchError(f"fine-tuning cannot start from the {name} head: {err}") from None
