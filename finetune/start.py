"""Where fine-tuning starts: a cached last-layer head as a Keras head on the pooled features.

The searched recipe starts from the head whose saved run had the lowest loss on the choice rows;
logistic regression becomes the Dense head's last layer, its standardisation folded into the
weights as the export stage does (`classify.fuse.folded_logreg`), so the model before any step
gives that head's probabilities.
"""

from __future__ import annotations

import json

import keras
import numpy as np

from classify import heads, saved
from classify.config import HEADS
from classify.fuse import folded_logreg
from workflow.paths import MAKE_TARGET, Paths


def best_head(paths: Paths) -> str:
    """The saved head (`logreg` or `dense`) whose saved run had the lowest log loss on the choice rows."""
    entries = json.loads(paths.heads_metrics.read_text()) if paths.heads_metrics.exists() else {}
    losses = {
        name: next(run["choice_loss"] for run in entries[name]["runs"] if run["seed"] == entries[name]["saved_seed"])
        for name in HEADS
        if name in entries and paths.model(name).exists()
    }
    if not losses:
        raise saved.HeadMismatchError(f"no saved head in {paths.out}: run `{MAKE_TARGET['dense']}` first")
    return min(losses, key=losses.get)


def start_head(out, name: str, fingerprint: str, n_classes: int) -> keras.Model:
    """A fresh Keras copy of the saved head `name`: the Dense head as saved, or logistic regression
    folded into a Dense layer under the same dropout as the Dense head's (dropout is off at inference)."""
    model, record = saved.load(out, name, fingerprint)
    if name == "dense":
        return model
    kernel, bias = folded_logreg(model)
    # in float32, as a saved Dense head loads, whatever the global policy (mixed_float16 on a GPU)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        head = heads.build_dense(kernel.shape[0], n_classes, dropout=record["config"]["dropout"])
    finally:
        keras.config.set_dtype_policy(policy)
    head.layers[-1].set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return head
