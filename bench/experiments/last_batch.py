"""Issue 23's spike in fine-tuning's epochs 1-2: a last batch of one image, stepped right before
each epoch's check on the choice rows (BENCHMARKS.md, "the choice-loss spike of epochs 1–2").

Not in `make bench` (a design record). On a folder with a cache and its Dense head (`make
features heads`), the tutorial recipe at a constant rate, probed every `every` steps:
`python -c "from bench.experiments.last_batch import probe; print(*probe('artifacts', WEIGHTS,
partial_last=True, every=52), sep='\\n')"` (pbc_sample: 1,633 fit images, so step 52 is the
one-image batch; `partial_last=False, every=51` gives the stream `make finetune` trains on)."""

from __future__ import annotations

import numpy as np


def probe(
    out: str,
    weights: str,
    partial_last: bool,
    every: int,
    steps: int = 104,
    learning_rate: float = 1e-5,
    fine_tune_at: int = 100,
) -> list[str]:
    """Markdown rows (step, choice loss, choice accuracy, 160 fit images' loss in inference mode,
    the last BatchNorm layer's mean |moving mean|), from the Dense head before any step, trained
    `every` steps at a time. `partial_last`: batch the fit images as before issue 23's fix, each
    epoch ending on its partial batch, however small."""
    import keras

    import cache
    from classify import saved
    from classify.heads import network
    from classify.protocol import protocol_of
    from extract.network.backbone import matching_backbone
    from extract.network.feature_source import source_in
    from finetune.config import FinetuneConfig
    from finetune.data import TrainingStream, cached_splits, image_dataset, roles_of
    from finetune.model import build_finetune_model
    from finetune.runs import fit_stream
    from finetune.start import start_head

    config = FinetuneConfig(out=out, weights=weights)
    meta = cache.info(config.paths.cache)
    n_classes = len(meta["class_names"])
    roles = roles_of(cached_splits(config.paths, meta), protocol_of(config.paths.cache, config.dev_fraction))
    keras.utils.set_random_seed(0)
    head = start_head(out, "dense", meta["fingerprint"])
    base = matching_backbone(meta, weights, "the cache", source_in(saved.load_record(out, "dense")))
    model = build_finetune_model(base, head, fine_tune_at)
    network.compile_dense(model, n_classes, learning_rate)

    size, binary = meta["image_size"], n_classes == 2
    choose = image_dataset(*roles["choose"], size, config.batch, binary)
    fixed_fit = list(TrainingStream(*roles["fit"], size, config.batch, binary, 123, augment=False).dataset.take(5))
    loss_of = network.loss_and_accuracy(n_classes)[0]
    norm = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)][-1]
    stream = fit_stream(config, roles["fit"], meta, config.seed)
    if partial_last:  # every image, the last partial batch kept whatever its size, as before issue 23
        stream.drop = False
    fit = stream.endless()

    def row(step: int) -> str:
        loss, accuracy = model.evaluate(choose, verbose=0)
        fit_loss = np.mean([float(loss_of(y, model(x, training=False))) for x, y in fixed_fit])
        moving = float(np.mean(np.abs(norm.moving_mean.numpy())))
        return f"| {step} | {loss:.3f} | {100 * accuracy:.1f}% | {fit_loss:.3f} | {moving:.5f} |"

    rows = [row(0)]
    for done in range(every, steps + 1, every):
        model.fit(fit, steps_per_epoch=every, epochs=1, verbose=0, shuffle=False)
        rows.append(row(done))
    return rows
