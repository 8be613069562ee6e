"""The searched recipe's choice of peak learning rate and depth (`FINE_TUNE_AT`), on the choice rows.

Every candidate trains `search_steps` steps from the same warm start, on the same stream, under
the full run's schedule shape (warm-up then cosine decay, over its own steps); its loss on the
choice rows is measured at SEARCH_POINTS points along the way, and the lowest at the end wins.
Only the fit and choice rows are read: the scored split never shapes the recipe. The result is
kept (`runs/search-<seed>/search.json`) and reused while everything that decides it is the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import keras

import cache
from extract.network.feature_source import source_in
from finetune.config import SEARCH_POINTS, FinetuneConfig
from finetune.data import image_dataset
from finetune.runs import STREAM, fit_class_weights, fit_stream


@dataclass
class Candidate:
    learning_rate: float
    fine_tune_at: str  # a layer name, a fraction or an index (`finetune.model.depth`)
    steps: list[int]  # where the choice loss was measured: 0 (the start), then along the run
    choice_loss: list[float]
    seconds: float


def search(
    config: FinetuneConfig,
    settings: dict,
    make_model: Callable[[float, int, int], keras.Model],
    roles: dict,
    meta: dict,
    progress: bool,
) -> dict:
    """{"candidates": [Candidate as a dict], "chosen": {"learning_rate", "fine_tune_at"}, "seconds"};
    `make_model(peak rate, depth, steps)` builds the compiled warm-started model."""
    files = config.paths.run("search", config.seed)
    path = files.search
    # what else shapes a candidate's steps: its batches, their augmentation and class weights (the seed
    # names the folder)
    shaping = ("batch", "augment", "class_weight", "search_rates", "search_depths", "search_steps")
    settings = settings | {key: getattr(config, key) for key in shaping} | {"stream": STREAM}
    if path.exists() and json.loads(path.read_text()).get("settings") == settings:
        return json.loads(path.read_text())["search"]
    per_point = config.search_steps // SEARCH_POINTS
    binary = len(meta["class_names"]) == 2
    choose = image_dataset(
        *roles["choose"], meta["image_size"], config.batch, binary, backbone=source_in(meta).backbone
    )
    weights = fit_class_weights(config, roles, meta)
    start_loss = None
    candidates = []
    for depth in config.search_depths:
        for rate in config.search_rates:
            keras.utils.set_random_seed(config.seed)  # the same stream and dropout for every candidate
            started = time.perf_counter()
            model = make_model(rate, depth, per_point * SEARCH_POINTS)
            if start_loss is None:  # one start for all: each candidate's step 0
                start_loss = float(model.evaluate(choose, verbose=0)[0])  # counted in the first's seconds
            fit = fit_stream(config, roles["fit"], meta, config.seed).endless()
            history = model.fit(
                fit,
                steps_per_epoch=per_point,
                epochs=SEARCH_POINTS,
                validation_data=choose,
                verbose=2 if progress else 0,
                shuffle=False,  # the stream shuffles itself
                class_weight=weights,  # the objective the runs will train on
            ).history
            candidates.append(
                Candidate(
                    rate,
                    depth,
                    [per_point * point for point in range(SEARCH_POINTS + 1)],
                    [start_loss, *map(float, history["val_loss"])],
                    time.perf_counter() - started,
                )
            )
    chosen = min(candidates, key=lambda c: c.choice_loss[-1])
    result = {
        "candidates": [asdict(c) for c in candidates],
        "chosen": {"learning_rate": chosen.learning_rate, "fine_tune_at": chosen.fine_tune_at},
        "seconds": sum(c.seconds for c in candidates),
    }
    files.directory.mkdir(parents=True, exist_ok=True)
    cache.write_text(path, json.dumps({"settings": settings, "search": result}, indent=2))
    return result
