"""Issue 34, item 3: a head trained on an int8 cache, exported. `make export PRECISION=int8` fuses the
head onto a backbone; `make predict` runs the cache's own int8 engine under the head. How far do
`model.tflite`, `model.int8.tflite` and `make predict` agree, on the cache's scored images?

Not in `make bench` (a design record). On the shared photos (BENCHMARKS.md, issue 34):
`python -c "from bench.experiments.int8_export import probe; print(*probe('../shared/data/cats_and_dogs_filtered',
'../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5', '/tmp/int8-export', 400),
sep='\\n')"`: builds the int8 cache (LIMIT), its logistic regression, and both exports, then
compares the three on the validation images."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np


def probe(data: str, weights: str, out: str, limit: int, image_size: int = 160) -> list[str]:
    """Markdown rows: each pair's share of images given the same class and largest probability
    difference, then each one's accuracy; and the export's own check (export.json)."""
    import cache
    from classify import fuse
    from classify import train as heads_train
    from classify.config import ExportConfig, HeadConfig, PredictConfig
    from classify.prediction import classifier
    from extract import backbones
    from extract.config import ExtractConfig
    from extract.network import calibration, engines
    from extract.running import build
    from workflow.paths import Paths

    paths = Paths(out)
    build.run(ExtractConfig(data=data, weights=weights, out=out, limit=limit, precision="int8", image_size=image_size))
    if not paths.heads_metrics.exists():
        heads_train.run(HeadConfig(out=out, heads=["logreg"], seeds=1), progress=False)
    if not paths.export_int8.exists():
        fuse.export(ExportConfig(out=out, head="logreg", precision="int8"))
    split = calibration.cached_split(paths.cache, "validation")
    predict = classifier(PredictConfig(out=out, head="logreg"))[1]
    models = {
        "make predict (int8 cache engine + head)": predict,
        "model.tflite": engines.TFLiteEngine(paths.export_tflite, 32),
        "model.int8.tflite": engines.TFLiteEngine(paths.export_int8, 32),
    }
    outputs = {name: [] for name in models}
    labels = []
    for positions, inputs in calibration.images(split, image_size, backbones.DEFAULT):
        labels.append(split.labels[positions])
        for name, model in models.items():
            outputs[name].append(model(inputs))
    labels = np.concatenate(labels)
    probabilities = {name: _two_columns(np.concatenate(found)) for name, found in outputs.items()}
    rows = [
        f"| {len(labels)} validation images, LIMIT={limit}, {image_size} px | same class | max probability difference |"
    ]
    rows.append("|---|---|---|")
    for a, b in combinations(probabilities, 2):
        same = np.mean(probabilities[a].argmax(1) == probabilities[b].argmax(1))
        rows.append(f"| {a} vs {b} | {100 * same:.1f}% | {np.abs(probabilities[a] - probabilities[b]).max():.3f} |")
    for name, p in probabilities.items():
        rows.append(f"| accuracy of {name} | {100 * np.mean(p.argmax(1) == labels):.1f}% | |")
    check = json.loads(Path(paths.export_record).read_text()).get("agreement", {})
    rows.append(f"| export.json's own check | {json.dumps(check)} | |")
    rows.append(f"| cache precision_check | {json.dumps(cache.info(paths.cache).get('precision_check'))} | |")
    return rows


def _two_columns(p: np.ndarray) -> np.ndarray:
    """(n, 2) probabilities from a binary model's one sigmoid column, or as given."""
    return np.concatenate([1 - p, p], axis=1) if p.shape[1] == 1 else p


def cached_path_check(out: str, head: str = "logreg") -> float:
    """The largest probability difference, on the choice rows, between the head on the cache's int8
    features (what `classify.fuse.with_predict` reads) and `make predict`'s own path (the cache's
    int8 engine run again on the images), on `probe`'s folder after it ran."""
    import cache
    from classify import fuse, saved
    from classify.config import ExportConfig, PredictConfig
    from classify.prediction import classifier
    from extract import backbones
    from extract.network import calibration
    from workflow.paths import Paths

    rows = fuse.check_rows(ExportConfig(out=out, head=head, precision="int8"))
    model, record = saved.load(out, head)
    blocks = record["feature_source"]["layers"]
    cached = model.predict_proba(
        cache.read_split(Paths(out).cache, rows.choice.name, blocks=blocks).features[rows.check]
    )
    predict = classifier(PredictConfig(out=out, head=head))[1]
    images = calibration.images(calibration.subset(rows.choice, rows.check), record["image_size"], backbones.DEFAULT)
    return float(np.abs(cached - np.concatenate([predict(inputs) for _, inputs in images])).max())
