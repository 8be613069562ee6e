"""Which rows calibrate an int8 engine and which rows check it: the fit rows and the choice rows
of `classify.protocol`, never one image in both, whatever LIMIT leaves (issue 34). Pure functions
of the ids: no image is read."""

import json

import numpy as np
import pytest

from extract.network.calibration import CHECK_ROWS, WEAK_CHECK, describe, int8_rows
from extract.reading.sources import Split
from extract.recorded.holdout import DEV_FRACTION, dev_ids
from extract.recorded.identity import CALIBRATION_IMAGES


def photos(name: str, per_class: int) -> Split:
    """A split shaped like cats_and_dogs_filtered's (two classes, even), `per_class` images of each."""
    ids = [f"{name}/{animal}s/{animal}.{i}.jpg" for animal in ("cat", "dog") for i in range(per_class)]
    return Split(name, ids, np.repeat([0, 1], per_class))


# LIMIT 120 and 600 of the shared photos' 2,000 train images, and all of them
@pytest.mark.parametrize(("limit", "checked", "calibrated"), [(120, 12, 108), (600, 60, 200), (None, 200, 200)])
def test_calibration_comes_from_the_fit_rows_and_the_check_from_the_choice_rows(limit, checked, calibrated):
    train = photos("train", (limit or 2000) // 2)
    rows = int8_rows([train, photos("validation", 500)], CALIBRATION_IMAGES, DEV_FRACTION)
    choice = dev_ids(train.ids, train.labels, DEV_FRACTION)  # the protocol's choice rows: no test split
    calibration = {train.ids[i] for i in rows.calibration}
    check = {rows.choice.ids[i] for i in rows.check}
    assert rows.choice is train and check <= choice and not calibration & choice
    assert (len(check), len(calibration)) == (checked, calibrated)
    assert check == choice or len(check) == CHECK_ROWS  # all of them, where there are no more than it takes
    assert np.bincount(train.labels[rows.calibration]).tolist() == [calibrated // 2] * 2  # every class
    record = rows.record()
    assert (record["rows"], record["calibration_images"], record["split"]) == (checked, calibrated, "dev")
    assert record["check_ids"] != record["calibration_ids"]
    assert int8_rows([train], CALIBRATION_IMAGES, DEV_FRACTION).record() == record  # a pure function of the ids


def test_with_a_test_split_validation_is_checked_and_all_of_train_calibrates():
    train, validation = photos("train", 300), photos("validation", 40)
    rows = int8_rows([train, validation, photos("test", 40)], 100, DEV_FRACTION)
    assert rows.choice is validation and rows.check == list(range(80))  # all 80 choice rows
    assert len(rows.calibration) == 100 and rows.record()["split"] == "validation"


def test_the_check_line_says_how_many_rows_it_measured_and_when_they_are_too_few():
    check = {"calibration_images": 108, "rows": 12, "split": "dev", "cosine_mean": 0.99, "cosine_min": 0.9}
    check |= {"tolerance": 0.03, "speedup": None}
    (line,) = describe(check)
    assert "on 12 choice rows (dev), a weak check (under 50 rows)" in line
    (line,) = describe(check | {"rows": WEAK_CHECK})
    assert f"on {WEAK_CHECK} choice rows (dev):" in line and "weak" not in line


def test_make_export_says_in_one_line_how_far_a_head_on_int8_features_agrees_with_predict(tmp_path, capsys):
    from classify.config import ExportConfig
    from classify.export import show
    from workflow.paths import Paths

    config = ExportConfig(out=str(tmp_path))
    Paths(tmp_path).export_record.parent.mkdir(parents=True)
    agreement = {"rows": 40, "split": "dev", "model.tflite": {"same_class": 0.975}}
    Paths(tmp_path).export_record.write_text(json.dumps({"agreement_with_predict": agreement}))
    show(config, [])
    assert capsys.readouterr().out.strip() == (
        "the head was trained on int8 features; model.tflite holds a float32 backbone: `make predict`'s class on "
        "40 choice rows (dev): model.tflite 97.5%"
    )
    Paths(tmp_path).export_record.write_text(json.dumps({"head": "logreg"}))  # a head on a float32 cache
    show(config, [])
    assert capsys.readouterr().out.strip() == ""  # the paths alone (none here)
