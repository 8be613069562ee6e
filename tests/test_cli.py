"""Command lines derived from config dataclasses (workflow.cli)."""

import dataclasses
import sys

import pytest

from workflow import cli
from workflow.errors import WorkflowError


@dataclasses.dataclass
class Settings:
    size: int = cli.option(160, "side in pixels")
    limit: int | None = cli.option(None, "at most this many")
    rates: list[float] = cli.option([0.1, 1.0], "comma-separated rates")
    mode: str = cli.option("fast", "how", choices=("fast", "slow"))
    force: bool = cli.option(False, "do it anyway")
    augment: bool = cli.option(True, "augment", negate="--no-augment")

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"size must be positive, got {self.size}")


def action(config: Settings, progress: bool = True):
    if config.mode == "slow":
        raise WorkflowError("too slow: pass --mode fast")
    return dataclasses.asdict(config) | {"progress": progress}


sys.modules[__name__].action = action
main = cli.command(
    Settings,
    f"{__name__}:action",
    lambda config, result: print(sorted(result.items())),
    prog="settings",
    description="test",
)


def test_defaults_come_from_the_dataclass(capsys):
    assert main([]) == 0
    shown = dict(eval(capsys.readouterr().out))
    assert shown == {
        "size": 160,
        "limit": None,
        "rates": [0.1, 1.0],
        "mode": "fast",
        "force": False,
        "augment": True,
        "progress": True,
    }
    assert Settings().rates is not Settings().rates  # a list default is copied per instance


def test_flags_are_parsed_by_the_fields_types(capsys):
    argv = ["--size", "224", "--limit", "5", "--rates", "0.5,2", "--force", "--no-augment", "--quiet"]
    assert main(argv) == 0
    shown = dict(eval(capsys.readouterr().out))
    assert shown == {
        "size": 224,
        "limit": 5,
        "rates": [0.5, 2.0],
        "mode": "fast",
        "force": True,
        "augment": False,
        "progress": False,
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--size", "0"], "size must be positive"),
        (["--size", "big"], "invalid int value"),
        (["--mode", "medium"], "invalid choice"),
        (["--rates", "a,b"], "invalid comma-separated float value"),
    ],
)
def test_bad_settings_exit_2_with_the_reason(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_workflow_error_is_one_line_and_exit_1_unless_debugging(capsys):
    assert main(["--mode", "slow"]) == 1
    assert capsys.readouterr().err == "error: too slow: pass --mode fast\n"
    with pytest.raises(WorkflowError, match="too slow"):
        main(["--mode", "slow", "--debug"])


def test_anything_unforeseen_is_one_line_unless_debugging(capsys):
    def broken(config, progress=True):
        raise ZeroDivisionError("division by zero\nand a second line")

    sys.modules[__name__].broken = broken
    main_broken = cli.command(Settings, f"{__name__}:broken", print, prog="settings", description="test")
    assert main_broken([]) == 1
    err = capsys.readouterr().err
    assert err == "error: unexpected ZeroDivisionError: division by zero (run again with --debug for the traceback)\n"
    with pytest.raises(ZeroDivisionError):
        main_broken(["--debug"])


@pytest.mark.parametrize("scored", ["validation", "test"])
def test_the_baseline_prints_the_accuracy_of_the_split_it_scored(scored, capsys):
    from finetune.baseline import show

    entry = {scored: {"accuracy": 0.9125}, "protocol": {"score": scored}, "train_seconds": 3.0, "epochs_run": 2}
    show(None, {"tutorial": entry})
    assert f"{scored} accuracy 91.25%" in capsys.readouterr().out
