"""Command lines derived from config dataclasses (workflow.cli)."""

import contextlib
import dataclasses
import errno
import io
import os
import sys

import numpy as np
import pytest

from tests.conftest import write_class_folders
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


def test_ctrl_c_is_one_line_and_exit_130_not_a_traceback(capsys):
    def interrupted(config, progress=True):
        raise KeyboardInterrupt

    sys.modules[__name__].interrupted = interrupted
    main_interrupted = cli.command(Settings, f"{__name__}:interrupted", print, prog="settings", description="test")
    assert main_interrupted([]) == 130  # the shell's code for a command ended by SIGINT
    assert capsys.readouterr().err == "interrupted\n"


def test_verbose_leaves_the_native_libraries_logs_on(monkeypatch, capsys):
    """--verbose keeps TensorFlow's C++ lines (for a bug report); without it they are turned down."""
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("DASK_LOGGING__DISTRIBUTED", raising=False)
    assert main(["--verbose"]) == 0
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ and "DASK_LOGGING__DISTRIBUTED" not in os.environ
    assert main([]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and os.environ["DASK_LOGGING__DISTRIBUTED"] == "error"


def test_a_command_prints_where_stdout_is_no_file():
    """Called from Python with stdout in a StringIO (a notebook's, a caller's): nothing to
    reconfigure for undecodable file names, and the result printed all the same."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["--size", "7", "--quiet"]) == 0
    assert dict(eval(printed.getvalue()))["size"] == 7


def test_an_errno_in_h5pys_text_or_too_many_open_files_is_explained_and_another_errno_is_not():
    from workflow.explain import explain

    h5 = OSError(  # h5py's OSError: no errno attribute, the C library's in its text
        "Unable to synchronously create file (unable to open file: name = '/out/features.h5', errno = 13, "
        "error message = 'Permission denied', flags = 13, o_flags = 242)"
    )
    assert h5.errno is None
    assert explain(h5) == (
        "permission denied for /out/features.h5: make it readable (data, weights) or writable (OUT=) for this user"
    )
    too_many = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    assert explain(too_many) == "too many open files: raise the limit (`ulimit -n 4096`) and run again"
    assert explain(OSError(errno.EIO, os.strerror(errno.EIO), "/data/cat.jpg")) is None  # unexpected: shown as such


@pytest.mark.slow
def test_failures_of_the_surroundings_are_one_actionable_line(tmp_path):
    """Real errors as the OS, h5py, NumPy and Dask raise them, each mapped to what to do."""
    import errno

    import h5py
    from dask.distributed import Client

    from workflow.explain import explain

    with pytest.raises(OSError) as full, open("/dev/full", "wb", buffering=0) as device:
        device.write(b"x")
    assert (
        explain(full.value) == "no space left to write: free some disk space, or set OUT= to a folder on another disk"
    )

    (tmp_path / "a_file").write_text("")
    with pytest.raises(OSError) as h5:  # h5py's OSError has no errno: it is in the text
        h5py.File(tmp_path / "a_file" / "features.h5", "w")
    assert explain(h5.value) == f"{tmp_path}/a_file/features.h5 runs through a file where a folder should be: " + (
        "check OUT= and DATA="
    )

    with pytest.raises(MemoryError) as memory:
        np.empty(1 << 60, np.uint8)
    assert explain(memory.value).startswith("out of memory: lower BATCH=")

    with pytest.raises(OSError) as unreachable:
        Client("tcp://127.0.0.1:9", timeout="1s")  # the discard port: nothing listens
    assert explain(unreachable.value).startswith("lost the connection to the Dask scheduler at tcp://127.0.0.1:9: ")

    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/out")
    assert explain(read_only) == "cannot write /mnt/ro/out: its file system is read-only; set OUT= to a writable folder"
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/cat.jpg")
    assert explain(RuntimeError("wrapped")) is None
    try:
        try:
            raise denied
        except OSError as err:
            raise RuntimeError("a library's wrapper") from err
    except RuntimeError as wrapped:
        assert explain(wrapped).startswith("permission denied for /data/cat.jpg: make it readable")


def test_a_stage_says_what_to_do_about_its_surroundings_not_unexpected(tmp_path, capsys):
    from extract.__main__ import main as features_main

    (tmp_path / "a_file").write_text("")
    data = tmp_path / "data"
    write_class_folders(data / "train", ["a", "b"], 2)
    write_class_folders(data / "validation", ["a", "b"], 1)
    assert features_main(["--data", str(data), "--out", str(tmp_path / "a_file" / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unexpected" not in err and "check OUT= and DATA=" in err, err
    assert err.count("\n") == 1
