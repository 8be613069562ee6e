"""Fine-tuning on real photos keeps the warm-started head's accuracy (short, for CI)."""

from classify import train as heads_train
from classify.config import HeadConfig
from extract import build
from extract.config import ExtractConfig
from finetune.config import FinetuneConfig
from finetune.tune import run
from tests.conftest import SHARED_DATA, SHARED_WEIGHTS, require_shared


def test_one_epoch_of_finetuning_on_400_real_photos(tmp_path, engine_dir):
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
    heads = heads_train.run(HeadConfig(out=out, heads=["dense"], epochs=30))
    metrics = run(FinetuneConfig(out=out, epochs=1, seeds=1), progress=False)["finetune"]
    assert metrics["validation"]["n"] == 400
    assert metrics["validation"]["accuracy"] >= 0.95, (metrics["validation"], heads["dense"]["validation"])
