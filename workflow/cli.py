"""Command lines derived from config dataclasses: one place for every default and its help.

Each entry point has one dataclass whose fields carry their help (`option`). `command` turns
it into an argparse parser (a field `image_size` becomes `--image-size`), builds the config,
runs the library function named by a string (imported only after parsing, so `--help` never
loads TensorFlow), prints the result, and chooses the exit code:

    0  done
    1  a `WorkflowError` (missing cache, bad data, other weights), a failure of the surroundings
       (full disk, read-only OUT, memory, lost scheduler: `workflow.explain`), or anything
       unforeseen: one line on stderr (`--debug` shows the traceback instead)
    2  bad flags or settings
    130 interrupted

Every command also takes `--quiet` (no progress bars), `--verbose` (TensorFlow's, absl's and
Dask's own log lines, hidden otherwise) and `--debug` (a traceback instead of one line).
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import importlib
import io
import logging
import os
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from workflow.errors import WorkflowError
from workflow.explain import explain


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: tuple | None = None,
    positional: bool = False,
    negate: str | None = None,
    make: str | None = None,
) -> Any:
    """A config field with its command-line help. A list default is copied per instance;
    `negate` names the flag that turns a True default off (e.g. `--no-augment`); `make` names the
    Make variable that sets it (the Makefile is checked against it, docs/settings.md shows it)."""
    metadata = {"help": help, "choices": choices, "positional": positional, "negate": negate, "make": make}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _base_type(annotation) -> tuple[type, bool]:
    """(element type, is a list) of `int`, `float | None`, `list[str]` and the like."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _comma_list(kind: type) -> Callable[[str], list]:
    def parse(text: str) -> list:
        return [kind(item) for item in text.split(",") if item.strip()]

    parse.__name__ = f"comma-separated {kind.__name__}"  # argparse names the type in its errors
    return parse


# Every command's own flags besides its config's: (flag, Make variable or None, help).
COMMON_FLAGS = (
    ("--quiet", None, "no progress bars"),
    ("--verbose", "VERBOSE", "show TensorFlow's, absl's and Dask's own log lines"),
    ("--debug", None, "a full traceback instead of a one-line error"),
)


def flag_of(field: dataclasses.Field) -> str:
    """The command-line spelling of a config field: `image_size` is `--image-size`, a negated
    boolean its `negate` flag, a positional field its name."""
    if field.metadata.get("positional"):
        return field.name
    return field.metadata.get("negate") or "--" + field.name.replace("_", "-")


def default_of(field: dataclasses.Field) -> Any:
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def _naming_make(help: str, make: str | None) -> str:
    return help + (f" [make: {make}]" if make else "")


def help_of(field: dataclasses.Field) -> str:
    """The field's help, naming its Make variable where it has one."""
    return _naming_make(field.metadata["help"], field.metadata.get("make"))


def parser_for(config_type: type, prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        meta, default, flag, help = field.metadata, default_of(field), flag_of(field), help_of(field)
        kind, is_list = _base_type(hints[field.name])
        if meta.get("positional"):
            parser.add_argument(flag, nargs="+", help=help)
        elif kind is bool and meta.get("negate"):
            parser.add_argument(
                flag, dest=field.name, action="store_false", help=f"{field.name}: {help}; this flag turns it off"
            )
        elif kind is bool:
            parser.add_argument(flag, action="store_true", help=help)
        elif is_list:
            parser.add_argument(
                flag, type=_comma_list(kind), default=default, help=help, metavar=kind.__name__.upper() + ",..."
            )
        else:
            parser.add_argument(flag, type=kind, default=default, choices=meta.get("choices"), help=help)
    for flag, make, help in COMMON_FLAGS:
        parser.add_argument(flag, action="store_true", help=_naming_make(help, make))
    return parser


def hide_native_logs() -> None:
    """Send what C++ libraries write straight to file descriptor 2 (TensorFlow's oneDNN and
    absl start-up lines, XNNPACK's delegate notice) to /dev/null, while Python's own stderr
    (progress bars, warnings, errors) moves to a copy of the real one. A crash still prints its
    Python stack there (faulthandler). TensorFlow's and absl's Python loggers show errors only, and so
    do Dask's (set through its environment, which its worker processes inherit, before Dask is
    imported: its INFO lines of every worker's start and restart would land between the progress bars)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    try:
        if sys.stderr.fileno() != 2:
            return  # done already
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return  # stderr is captured (pytest's capsys): leave the process's descriptors alone
    sys.stderr.flush()
    real_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = io.TextIOWrapper(os.fdopen(real_stderr, "wb", buffering=0), write_through=True)
    faulthandler.enable(sys.stderr)
    import absl.logging  # TFDS logs through absl's Python logger

    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # e.g. tf.function retracing notices


def _function(target: str) -> Callable:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def command(
    config_type: type, target: str, show: Callable[[Any, Any], None], *, prog: str, description: str
) -> Callable[[list[str] | None], int]:
    """`main(argv) -> exit code` for an entry point: parse into `config_type`, call
    `target(config, progress=...)` ("package.module:function"), then `show(config, result)`."""

    def main(argv: list[str] | None = None) -> int:
        parser = parser_for(config_type, prog, description)
        args = vars(parser.parse_args(argv))
        quiet, verbose, debug = args.pop("quiet"), args.pop("verbose"), args.pop("debug")
        try:
            config = config_type(**args)
        except ValueError as err:
            parser.error(str(err))  # exits 2 with the usage line
        if not verbose:
            hide_native_logs()
        if hasattr(sys.stdout, "reconfigure"):  # file names that are not valid UTF-8: escaped, not a crash
            sys.stdout.reconfigure(errors="backslashreplace")
        try:
            result = _function(target)(config, progress=not quiet)
        except WorkflowError as err:
            if debug:
                raise
            print(f"error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as err:  # the surroundings (disk, memory, scheduler), a bug or an unforeseen failure
            if debug:
                raise
            first_line = (str(err).strip().splitlines() or [""])[0][:300]
            unforeseen = f"unexpected {type(err).__name__}: {first_line} (run again with --debug for the traceback)"
            print(f"error: {explain(err) or unforeseen}", file=sys.stderr)
            return 1
        show(config, result)
        return 0

    main.config_type, main.prog, main.description = config_type, prog, description  # for docs/settings.md
    return main
