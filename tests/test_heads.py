"""One suite run against every registered head, as scikit-learn's `check_estimator` runs against
every estimator: a new head in `classify.heads.REGISTRY` is checked here without a line added."""

import numpy as np
import pytest

from classify.config import HEADS, MODELS, HeadConfig
from classify.heads import REGISTRY, HeadError
from classify.heads.dense import Dense
from classify.part import Loaded, Part
from report.collect import LABELS, USES_CACHE
from tests.test_outofcore import DIM, blob_cache

# heads trained by Keras epochs take seconds each: out of `make test-fast`, in `make test`
EVERY_HEAD = [pytest.param(name, marks=[pytest.mark.slow] * issubclass(head, Dense)) for name, head in REGISTRY.items()]

# seconds per head: one Adam rate, few epochs, a small hidden layer, two C
FAST = {"jobs": 1, "folds": 3, "cs": [0.1, 1.0], "rates": [1e-2], "max_epochs": 60, "converged_patience": 5}
FAST |= {"hidden": 32, "batch": 16}


def blobs(sizes, seed: int, dim: int = DIM) -> Loaded:
    """Separable Gaussian clusters, `sizes[k]` rows of class k, one view each."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1.5, (len(sizes), dim))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    features = centres[labels] + rng.normal(0, 1.0, (len(labels), dim))
    return Loaded(features[:, None].astype(np.float32), labels, [f"{seed}/{i}" for i in range(len(labels))])


def fitted(name: str, fit: Loaded, choose: Loaded, seed: int = 0, **settings):
    n_classes = int(max(fit.labels.max(), choose.labels.max())) + 1
    return REGISTRY[name](HeadConfig(**FAST | settings)).fit(fit, choose, n_classes, seed)


def one_line(err: pytest.ExceptionInfo) -> bool:
    return "\n" not in str(err.value) and len(str(err.value)) > 20


def test_every_head_is_registered_under_its_name_and_reaches_every_list():
    for name, head in REGISTRY.items():
        assert head.name == name and "\n" not in head.title and head.suffix.startswith(".")
        assert name in HEADS and name in MODELS and name in USES_CACHE and f"{name}_tta" in LABELS


@pytest.mark.parametrize("name", EVERY_HEAD)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_a_head_beats_chance_and_gives_probabilities(name, n_classes):
    head = fitted(name, blobs([40] * n_classes, 0), blobs([15] * n_classes, 1))
    test = blobs([30] * n_classes, 2)
    probs = head.predict_proba(test.features[:, 0])
    assert probs.shape == (len(test), n_classes) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.mean(probs.argmax(axis=1) == test.labels) >= 1 / n_classes + 0.4
    assert "\n" not in head.choices("validation") and head.record["streamed"] is False


@pytest.mark.parametrize("name", EVERY_HEAD)
def test_save_and_load_give_the_same_probabilities(name, tmp_path):
    head = fitted(name, blobs([40] * 3, 0), blobs([15] * 3, 1))
    path = tmp_path / f"{name}{head.suffix}"
    head.save(path)
    test = blobs([20] * 3, 2).features[:, 0]
    np.testing.assert_allclose(type(head).load(path).predict_proba(test), head.predict_proba(test), atol=1e-6)


@pytest.mark.parametrize("name", EVERY_HEAD)
def test_the_keras_form_gives_the_same_probabilities_or_a_one_line_refusal(name):
    head = fitted(name, blobs([40] * 3, 0), blobs([15] * 3, 1))
    if not head.fuses:
        with pytest.raises(HeadError) as err:
            head.to_keras()
        assert one_line(err) and name in str(err.value)
        return
    test = blobs([20] * 3, 2).features[:, 0]
    model = head.to_keras()
    np.testing.assert_allclose(np.asarray(model(test, training=False)), head.predict_proba(test), atol=1e-4)


@pytest.mark.parametrize("name", EVERY_HEAD)
def test_streamed_rows_train_as_rows_in_memory_or_are_refused_in_one_line(name, tmp_path):
    path = blob_cache(tmp_path / "features.h5", 3, rows=(600, 90, 150))
    streamed = Part.whole(path, "train")
    choose = Part.whole(path, "validation").load()
    test = Part.whole(path, "test").load(views=False)
    if not REGISTRY[name].streams:
        with pytest.raises(HeadError) as err:
            fitted(name, streamed, choose)
        assert one_line(err) and "MEMORY_GB" in str(err.value)
        return
    a = fitted(name, streamed, choose, search_rows=1000).predict_proba(test.features)
    b = fitted(name, streamed.load(), choose).predict_proba(test.features)
    # the noise to expect: the rows in memory again, in another order (another seed); for the MLP
    # it is larger than 0.03 (measured 0.042)
    noise = np.mean(np.abs(fitted(name, streamed.load(), choose, seed=1).predict_proba(test.features) - b))
    assert np.mean(np.abs(a - b)) < max(0.03, 1.5 * noise)
    # two accuracies on 150 test rows differ by 0.037 (one standard error) by chance alone; the MLP in
    # memory ranged 0.83-0.89 over seeds 0-3
    assert abs(np.mean(a.argmax(1) == test.labels) - np.mean(b.argmax(1) == test.labels)) <= 0.05


@pytest.mark.parametrize("name", EVERY_HEAD)
def test_neither_row_order_nor_class_order_changes_the_result(name):
    fit, choose, test = blobs([40] * 3, 0), blobs([15] * 3, 1), blobs([20] * 3, 2).features[:, 0]
    settings = {"cs": [1.0]}  # one C: the folds of permuted rows differ, and a close call may go either way
    reference = fitted(name, fit, choose, **settings).predict_proba(test)
    rows = np.random.default_rng(3).permutation(len(fit))
    permuted = Loaded(fit.features[rows], fit.labels[rows], [fit.ids[i] for i in rows])
    assert np.mean(np.abs(fitted(name, permuted, choose, **settings).predict_proba(test) - reference)) < 0.03
    classes = np.array([2, 0, 1])  # class k is called classes[k]
    renamed = [Loaded(d.features, classes[d.labels], d.ids) for d in (fit, choose)]
    relabelled = fitted(name, *renamed, **settings).predict_proba(test)
    assert np.mean(np.abs(relabelled[:, classes] - reference)) < 0.03


@pytest.mark.parametrize("name", EVERY_HEAD)
def test_a_class_of_three_examples_still_gets_probabilities(name):
    head = fitted(name, blobs([40, 40, 3], 0), blobs([15, 15, 2], 1))
    test = blobs([20, 20, 10], 2)
    probs = head.predict_proba(test.features[:, 0])
    assert probs.shape == (50, 3) and np.all(np.isfinite(probs)) and np.all(probs[:, 2] > 0)
    rare = test.labels == 2
    assert probs[rare, 2].mean() > probs[~rare, 2].mean()
