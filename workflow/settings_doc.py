"""docs/settings.md, written from the config dataclasses: `make docs` (`python -m workflow.settings_doc`).

Every setting's default, help and Make variable live on its config field (`workflow.cli.option`);
this page is rendered from them, and a test fails when the committed page differs. The commands are
found by the module names `python -m` runs, as `make` finds them, so this module imports no stage
and stays at the bottom of the layout.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from pathlib import Path

from workflow.cli import COMMON_FLAGS, default_of, flag_of

PAGE = Path(__file__).resolve().parents[1] / "docs/settings.md"
COMMANDS = (  # (make target, the module `python -m` runs), in the order a run goes
    ("features", "extract"),
    ("heads", "classify"),
    ("finetune", "finetune"),
    ("baseline", "finetune.baseline"),
    ("report", "report"),
    ("audit", "audit"),
    ("predict", "classify.predict"),
    ("export", "classify.export"),
    ("bench", "bench"),
)
MAKE_ONLY = {  # Make variables that set no config field: what they do
    "BASELINE": "`make report BASELINE=1` first runs `make baseline` (the tutorial's recipe, timed under the same "
    "protocol), so the report compares it too",
    "GPU": "`make venv GPU=1` builds .venv from requirements-gpu.txt (`tensorflow[and-cuda]`) instead of "
    "requirements.txt (`tensorflow-cpu`); on by default where an NVIDIA driver is loaded. Switching rebuilds .venv",
    "TEST_WORKERS": "`make test` and `make test-fast` run on this many pytest-xdist workers (default 2; 0: one "
    "process, which a debugger needs)",
}
INTRO = """\
# Settings

<!-- Written by `make docs` from the config dataclasses (`*/config.py`); edit those, not this page. -->

Every setting has one default, in its stage's config dataclass, and from it a command-line flag
(`python -m extract --help` lists them with their Make variables). A Make variable that is set becomes
its flag, e.g. `make features IMG_SIZE=224` runs `python -m extract --image-size 224`; an unset one
leaves the default. A setting without a Make variable is a flag only.
Boolean variables are on for `1`, `yes` or `true` and off for `0`, `no`, `false` or unset; any other
value stops `make` at once with one line saying so.
"""


def entry_point(module: str):
    """The `main` that `python -m <module>` runs (`workflow.cli.command`'s, carrying its config type)."""
    entry = importlib.import_module(module)
    if not hasattr(entry, "main"):  # a package: `python -m` runs its __main__
        entry = importlib.import_module(module + ".__main__")
    return entry.main


def config_of(module: str) -> type:
    return entry_point(module).config_type


def _cell(text: str) -> str:
    """Help text as Markdown: argparse's escaped percent, a table's bar, and `<out>`, which would
    read as an HTML tag."""
    return text.replace("%%", "%").replace("|", "\\|").replace("<", "\\<")


def _default(field: dataclasses.Field) -> str:
    value = default_of(field)
    if field.metadata.get("negate"):
        return "on"
    if isinstance(value, bool):
        return "off"
    if value is None or value == []:
        return "unset"
    return f"`{','.join(map(str, value)) if isinstance(value, list) else value}`"


def _command(target: str, module: str) -> str:
    main = entry_point(module)
    description = re.sub(r"^`python -m [\w.]+` \(`make [^`]+`\): ", "", " ".join(main.description.split()))
    summary = re.match(r"(.+?[.?])(\s|$)", description[0].upper() + description[1:]).group(1)
    rows = [
        f"| {'`' + field.metadata['make'] + '`' if field.metadata.get('make') else '–'} | `{flag_of(field)}` "
        f"| {_default(field)} | {_cell(field.metadata['help'])} |"
        for field in dataclasses.fields(main.config_type)
    ]
    return "\n".join(
        [
            f"## `make {target}`: `{main.prog}`",
            "",
            _cell(summary),
            "",
            "| Make variable | flag | default | meaning |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def render() -> str:
    """The whole page."""
    common = [f"| {'`' + make + '`' if make else '–'} | `{flag}` | {help} |" for flag, make, help in COMMON_FLAGS]
    make_only = [f"| `{name}` | – | {text} |" for name, text in MAKE_ONLY.items()]
    every = "\n".join(
        ["## Every command", "", "| Make variable | flag | meaning |", "|---|---|---|", *common, *make_only]
    )
    return "\n\n".join([INTRO.rstrip(), every, *(_command(target, module) for target, module in COMMANDS)]) + "\n"


def main() -> int:
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
