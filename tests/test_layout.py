"""The layout holds: imports run one way, one module names every artifact path, every default
lives in its config dataclass (the Makefile and docs/settings.md agree with them), and every command line
starts without TensorFlow."""

import ast
import dataclasses
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SHARED_CACHE_FILES
from workflow import cli, settings_doc

# Lower imports nothing above it; report and audit sit side by side; bench measures them all.
RANK = {"workflow": 0, "cache": 1, "extract": 2, "classify": 3, "finetune": 4, "report": 5, "audit": 5, "bench": 6}
ENTRY_POINTS = {module: settings_doc.config_of(module) for _, module in settings_doc.COMMANDS}


def project_modules():
    for package in RANK:
        yield from sorted((ROOT / package).rglob("*.py"))


def imported_packages(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_imports_run_one_way():
    upward = []
    for path in project_modules():
        package = path.relative_to(ROOT).parts[0]
        for imported in imported_packages(path):
            if imported in RANK and imported != package and RANK[imported] >= RANK[package]:
                upward.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert upward == []


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, known: set[str]):
    """The project modules `path` imports, at any depth of its code (function-level imports too):
    `from extract.running import cluster` imports extract.running.cluster."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name in known)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle of the import graph once, as the modules around it (a depth-first search)."""
    cycles, done = [], set()

    def visit(module, trail):
        if module in trail:
            cycle = trail[trail.index(module) :]
            first = cycle.index(min(cycle))
            cycles.append(cycle[first:] + cycle[:first])
            return
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, trail + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return sorted({tuple(cycle) for cycle in cycles})


def test_no_module_imports_itself_round_a_cycle():
    """Inside a package too, at any depth: a function-level import counts."""
    paths = {module_name(path): path for path in project_modules()}
    packages = {name for name in paths if "." not in name}
    graph = {
        name: {imported for imported in imported_modules(path, set(paths)) if imported not in packages}
        for name, path in paths.items()
    }
    assert import_cycles(graph) == []


def test_the_cycle_check_would_catch_one():
    assert import_cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [("a.x", "a.y", "a.z")]
    assert import_cycles({"a.x": {"a.y"}, "a.y": set()}) == []


ARTIFACT_NAMES = re.compile(
    r"features\.h5|metrics\.json|predictions\.csv|report\.(md|png)|model\.(keras|tflite)"
    r"|logreg\.joblib|dense\.keras|history\.(csv|json)|learning_curve|best\.weights|\.parts"
)


def test_only_workflow_paths_names_artifacts():
    """No string naming an artifact, and no `path / "literal"`, outside workflow/paths.py."""
    found = []
    for path in project_modules():
        if path == ROOT / "workflow" / "paths.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and ARTIFACT_NAMES.search(node.value)
                and " " not in node.value
            ):
                found.append(f"{path.relative_to(ROOT)}: {node.value!r}")
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, str)
            ):
                found.append(f"{path.relative_to(ROOT)}: / {node.right.value!r}")
    # Not artifacts of the output folder: bench's throw-away datasets in temporary folders, the
    # shard store's own manifest inside Paths.parts, and where Keras and TFDS keep their downloads.
    allowed = {
        "cache/shards.py: / 'manifest.json'",
        "extract/recorded/identity.py: / '.keras'",
        "extract/recorded/identity.py: / 'models'",
        "extract/reading/tfds_source.py: / 'tensorflow_datasets'",
        "workflow/settings_doc.py: / 'docs/settings.md'",  # the repository's own page, not an output
    }
    assert [f for f in found if not f.startswith("bench/") and f not in allowed] == []


def test_the_artifact_names_check_would_catch_one(tmp_path):
    assert ARTIFACT_NAMES.search("heads/metrics.json") and ARTIFACT_NAMES.search("features.h5.parts")
    assert not ARTIFACT_NAMES.search("logreg")


def make_dry_run(*arguments):
    """The python command lines `make -n` would run."""
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", *arguments], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    lines = printed.replace("\\\n", " ").splitlines()
    return [line for line in lines if re.match(r"\S*python\S* -m (?!venv|pip)", line)]


def flags_of(line):
    return re.findall(r"(--[a-z-]+)(?: ([^-\s]\S*))?", line)


@pytest.mark.parametrize(
    "target, module",
    [
        ("features", "extract"),
        ("heads", "classify"),
        ("finetune", "finetune"),
        ("export", "classify.export"),
        ("report", "report"),
        ("audit", "audit"),
    ],
)
def test_make_passes_only_the_variables_that_are_set(target, module):
    (line,) = make_dry_run(target)
    assert f"-m {module} " in line + " "
    assert flags_of(line) == [("--out", "artifacts")]  # every other default is the dataclass's


def test_make_variables_become_their_flags():
    (line,) = make_dry_run(
        "features",
        "DATA=d",
        "WEIGHTS=w.h5",
        "IMG_SIZE=224",
        "BATCH=8",
        "LIMIT=5",
        "ENGINE=tflite",
        "DTYPE=float16",
        "FORCE=1",
        "OUT=o",
        "VERBOSE=1",
    )
    assert dict(flags_of(line)) == {
        "--out": "o",
        "--data": "d",
        "--weights": "w.h5",
        "--image-size": "224",
        "--batch": "8",
        "--limit": "5",
        "--engine": "tflite",
        "--dtype": "float16",
        "--force": "",
        "--verbose": "",
    }
    (line,) = make_dry_run("heads", "HEADS=logreg", "EPOCHS=3", "EXCLUDE=audit.csv")
    assert dict(flags_of(line)) == {
        "--out": "artifacts",
        "--heads": "logreg",
        "--epochs": "3",
        "--exclude": "audit.csv",
    }
    (line,) = make_dry_run("report", "METRIC=macro_f1")
    assert dict(flags_of(line)) == {"--out": "artifacts", "--metric": "macro_f1"}
    for target in ("heads", "finetune", "baseline"):
        lines = make_dry_run(target, "CLASS_WEIGHT=balanced")
        assert ("--class-weight", "balanced") in flags_of(lines[-1]), target
    (line,) = make_dry_run("audit", "SIMILARITY=0.9")
    assert dict(flags_of(line)) == {"--out": "artifacts", "--similarity": "0.9"}
    (line,) = make_dry_run("finetune", "FT_EPOCHS=2", "FINE_TUNE_AT=120", "WEIGHTS=w.h5", "FT_RECIPE=tutorial")
    assert dict(flags_of(line)) == {
        "--out": "artifacts",
        "--weights": "w.h5",
        "--epochs": "2",
        "--fine-tune-at": "120",
        "--recipe": "tutorial",
    }
    (line,) = make_dry_run("finetune", "FT_RATES=1e-5,1e-4", "FT_DEPTHS=100", "FT_SEARCH_STEPS=30")
    assert dict(flags_of(line)) == {
        "--out": "artifacts",
        "--search-rates": "1e-5,1e-4",
        "--search-depths": "100",
        "--search-steps": "30",
    }
    (line,) = make_dry_run("predict", "IMAGES=photos", "HEAD=dense", "TOP_K=3")
    assert "-m classify.predict photos " in line and ("--head", "dense") in flags_of(line)
    assert ("--top-k", "3") in flags_of(line)


BOOLEAN_FLAGS = {  # each boolean Make variable: a target it changes, and the flag it gives there
    "TTA": ("predict", "--tta"),
    "FORCE": ("features", "--force"),
    "VERIFY": ("features", "--verify"),
    "QUICK": ("bench", "--quick"),
    "VERBOSE": ("heads", "--verbose"),
}


@pytest.mark.parametrize("name", BOOLEAN_FLAGS)
@pytest.mark.parametrize(
    "value, on",
    [("1", True), ("yes", True), ("true", True), ("0", False), ("no", False), ("false", False), ("", False)],
)
def test_make_booleans_mean_what_they_say(name, value, on):
    target, flag = BOOLEAN_FLAGS[name]
    (line,) = make_dry_run(target, "IMAGES=photos", f"{name}={value}")
    assert (flag in dict(flags_of(line))) == on


@pytest.mark.parametrize(
    "value, on", [("1", True), ("yes", True), ("true", True), ("0", False), ("no", False), ("false", False)]
)
def test_make_baseline_and_gpu_mean_what_they_say(value, on):
    modules = [line.split(" -m ")[1].split()[0] for line in make_dry_run("report", f"BASELINE={value}")]
    assert modules == (["finetune.baseline", "report"] if on else ["report"])
    venv = subprocess.run(
        ["make", "-n", "-B", "venv", f"GPU={value}"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert ("-r requirements-gpu.txt" in venv.stdout) == on


@pytest.mark.parametrize("name", [*BOOLEAN_FLAGS, "BASELINE", "GPU"])
@pytest.mark.parametrize("value", ["2", "maybe", "on", "1 0"])
def test_make_refuses_anything_else_for_a_boolean_in_one_line(name, value):
    # --no-print-directory: under `make test` this make is a sub-make, which would name its folder
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "audit", f"{name}={value}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and f"{name}={value} is not a boolean" in result.stderr


def test_gpu_variable_picks_the_cuda_requirements():
    gpu = subprocess.run(["make", "-n", "-B", "venv", "GPU=1"], cwd=ROOT, check=True, capture_output=True, text=True)
    cpu = subprocess.run(["make", "-n", "-B", "venv", "GPU="], cwd=ROOT, check=True, capture_output=True, text=True)
    assert "-r requirements-gpu.txt" in gpu.stdout and "-r requirements.txt" in cpu.stdout
    pins = (ROOT / "requirements-gpu.txt").read_text()
    assert "tensorflow[and-cuda]==2.21.0" in pins and "tensorflow_cpu" not in pins
    assert re.search(r"^nvidia-cudnn-cu12==\S+$", pins, re.M)


def test_the_makefile_restates_no_default_but_out():
    assigned = dict(re.findall(r"^([A-Z_]+)\s*\?=[ \t]*(.*)$", (ROOT / "Makefile").read_text(), re.M))
    own = ("PYTHON", "GPU", "TEST_WORKERS")  # the Makefile's own settings: no entry point has them
    restated = {name: value for name, value in assigned.items() if value.strip() and name not in own}
    assert restated == {"OUT": "artifacts"}
    outs = {
        cli.default_of(f) for config in ENTRY_POINTS.values() for f in dataclasses.fields(config) if f.name == "out"
    }
    assert outs == {"artifacts"}


def test_docs_settings_is_the_generated_page():
    assert (ROOT / "docs" / "settings.md").read_text() == settings_doc.render(), "stale: run make docs"


def test_make_docs_writes_the_rendered_page_where_it_lives(tmp_path, monkeypatch, capsys):
    """`make docs` (settings_doc.main), pointed away from the repository: a docs folder made where
    there is none, the page as rendered in it, and one line that says where."""
    page = tmp_path / "docs" / "settings.md"
    monkeypatch.setattr(settings_doc, "PAGE", page)
    assert settings_doc.main() == 0
    assert page.read_text() == settings_doc.render()
    assert capsys.readouterr().out == f"wrote {page}\n"


def make_names(config) -> dict[str, str]:
    """Make variable -> the flag it sets, from the config's own metadata."""
    return {
        field.metadata["make"]: cli.flag_of(field) for field in dataclasses.fields(config) if field.metadata["make"]
    }


def test_the_makefile_lists_the_metadatas_variables():
    listed = set(re.findall(r"^([A-Z_]+)\s*\?=", (ROOT / "Makefile").read_text(), re.M))
    named = {name for config in ENTRY_POINTS.values() for name in make_names(config)}
    common = {make for _, make, _ in cli.COMMON_FLAGS if make}
    assert listed - {"PYTHON"} == named | common | set(settings_doc.MAKE_ONLY)


@pytest.mark.parametrize("target, module", settings_doc.COMMANDS)
def test_each_make_variable_becomes_its_own_flag_and_no_other(target, module):
    """Every variable set at once, each to its own value: a target passes exactly its config's."""
    fields = [field for config in ENTRY_POINTS.values() for field in dataclasses.fields(config)]
    booleans = {field.metadata["make"] for field in fields if field.type in (bool, "bool")} | {"VERBOSE"}
    values = {field.metadata["make"]: "v_" + field.name for field in fields if field.metadata["make"]}
    values |= dict.fromkeys(booleans, "1")
    (line,) = make_dry_run(target, *(f"{name}={value}" for name, value in values.items()))
    options = {name: flag for name, flag in make_names(ENTRY_POINTS[module]).items() if flag.startswith("--")}
    wanted = {flag: "" if name in booleans else values[name] for name, flag in options.items()}
    assert dict(flags_of(line)) == wanted | {"--verbose": ""}
    for name in make_names(ENTRY_POINTS[module]).keys() - options.keys():  # positional (IMAGES): after the module
        assert f"-m {module} {values[name]} " in line


HELP_WITHOUT_TENSORFLOW = """
import runpy, sys
sys.argv = [sys.argv[1], "--help"]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert exit.code == 0, exit.code
print(sorted(name for name in ("tensorflow", "keras", "tensorflow_datasets") if name in sys.modules))
"""


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_lists_every_setting_without_loading_tensorflow(module):
    result = subprocess.run(
        [sys.executable, "-c", HELP_WITHOUT_TENSORFLOW, module], cwd=ROOT, check=True, capture_output=True, text=True
    )
    *text, loaded = result.stdout.strip().splitlines()
    assert loaded == "[]"
    help_text = "\n".join(text)
    for field in dataclasses.fields(ENTRY_POINTS[module]):
        if field.metadata.get("positional"):
            assert field.name in help_text
        else:
            assert field.metadata.get("negate") or "--" + field.name.replace("_", "-") in help_text, field.name
    assert "--quiet" in help_text and "--verbose" in help_text and "--debug" in help_text


def test_the_files_that_share_the_real_photos_cache_are_scheduled_together():
    """`make test` runs the files that read `shared_cache` on one worker (conftest's scheduler): a
    file missing from the list would build the minute-long cache on the other worker too."""
    readers = {
        path.name
        for path in (ROOT / "tests").glob("test_*.py")
        if re.search(r"\bdef test_\w+\([^)]*\bshared_(cache|heads)\b", path.read_text())
    }
    assert readers == SHARED_CACHE_FILES
