"""Fine-tuning and the report on real photos (short, for CI): fine-tuning keeps the warm-started
head's accuracy, and the report holds every method with its interval."""

import html
import json

from classify import train as heads_train
from classify.config import HeadConfig
from extract.config import ExtractConfig
from extract.running import build
from finetune.config import BaselineConfig, FinetuneConfig
from finetune.tune import run
from finetune.tutorial import run as run_baseline
from report.config import ReportConfig
from report.write import write_report
from tests.conftest import SHARED_DATA, SHARED_WEIGHTS, require_shared
from workflow.paths import Paths


def test_finetuning_and_the_report_on_400_real_photos(tmp_path, engine_dir):
    """Over a minute, as small as it gets: the accuracy floor needs the real network at its default
    size on a few hundred photos; the search is at its fewest (two candidates of three steps) and
    fine-tuning and the tutorial's recipe at one epoch each."""
    require_shared()
    out = str(tmp_path)
    build.run(
        ExtractConfig(
            data=str(SHARED_DATA),
            weights=str(SHARED_WEIGHTS),
            out=out,
            limit=400,
            engine="tflite",
            engine_dir=str(engine_dir),
        ),
        progress=False,
    )
    heads = heads_train.run(HeadConfig(dense_recipe="tutorial", out=out, epochs=30, seeds=2))  # runs: mean ± sd
    search = dict(search_steps=3, search_rates=[1e-5, 1e-4], search_depths=[100])  # the fewest steps allowed
    metrics = run(FinetuneConfig(out=out, epochs=1, seeds=1, **search), progress=False)["finetune"]
    assert metrics["validation"]["n"] == 400
    assert metrics["validation"]["accuracy"] >= 0.95, (metrics["validation"], heads["dense"]["validation"])
    run_baseline(BaselineConfig(out=out, epochs=1, seeds=1), progress=False)

    write_report(ReportConfig(out=out))
    content = json.loads(Paths(out).report_json.read_text())
    assert content["scored_split"] == "validation" and content["images"] == 400
    by_name = {m["name"]: m for m in content["methods"]}
    assert set(by_name) == {"logreg", "dense", "finetune", "tutorial"}
    tuned = content["fine_tuning"]
    assert tuned["start"] in ("logreg", "dense") and len(tuned["search"]["candidates"]) == 2
    assert metrics["train_seconds"] > metrics["search"]["seconds"] > 0  # the search is part of the cost
    for name, m in by_name.items():
        interval = m["accuracy"]
        assert interval["low"] <= interval["estimate"] <= interval["high"], name
        assert 0 < interval["high"] - interval["low"] < 0.1, name  # 400 images: a few points wide
        assert m["protocol"]["choose"].startswith("dev") and m["protocol"]["score"] == "validation"
    assert by_name["logreg"]["runs"] == 2 and by_name["finetune"]["runs"] == 1
    assert by_name["logreg"]["accuracy"]["estimate"] >= 0.95
    page = Paths(out).report_html.read_text()
    page = html.unescape(page)  # the template escapes what it writes: ' as &#39;, & as &amp;
    assert all(m["label"] in page for m in content["methods"]) and content["verdict"][0] in page
