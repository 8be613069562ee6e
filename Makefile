# Offline feature-cache workflow for transfer learning on images.
# `make all` runs every stage; `make test` runs the tests. The first use creates .venv.
#
# Every setting's default lives in one place, its stage's config dataclass, whose fields also name
# their Make variable (docs/settings.md, written by `make docs`; tests/test_layout.py checks the lists
# and flag lines below against them). A variable set here, e.g. `make features IMG_SIZE=224`, becomes
# that flag; an unset one leaves the default.
# Stages after `make features` take their weights from the cache unless WEIGHTS is set, and always its
# backbone: there BACKBONE only checks that the cache is of the one meant.

OUT          ?= artifacts
DATA         ?=
BACKBONE     ?=
WEIGHTS      ?=
IMG_SIZE     ?=
LAYERS       ?=
BATCH        ?=
LIMIT        ?=
ENGINE       ?=
DTYPE        ?=
PRECISION    ?=
CALIBRATION  ?=
VIEWS        ?=
CLUSTER      ?=
SCHEDULER    ?=
VIEW_POLICY  ?=
TTA          ?=
FORCE        ?=
VERIFY       ?=
HEADS        ?=
SEEDS        ?=
FT_SEEDS     ?=
DEV_FRACTION ?=
GROUPS       ?=
EXCLUDE      ?=
MEMORY_GB    ?=
SEARCH_ROWS  ?=
SIMILARITY   ?=
EPOCHS       ?=
DENSE_RECIPE ?=
FEATURES     ?=
FT_EPOCHS    ?=
FINE_TUNE_AT ?=
FT_RECIPE    ?=
FT_RATES     ?=
FT_DEPTHS    ?=
FT_SEARCH_STEPS ?=
HEAD         ?=
IMAGES       ?=
BASELINE     ?=
RUNS         ?=
BENCH_DATA   ?=
BENCH_WEIGHTS ?=
QUICK        ?=
VERBOSE      ?=
METRIC       ?=
CLASS_WEIGHT ?=
TOP_K        ?=
# GPU=1 installs tensorflow[and-cuda] instead of tensorflow-cpu; on by default where an NVIDIA driver is loaded.
GPU          ?= $(if $(wildcard /proc/driver/nvidia/version),1)

# Boolean variables: 1, yes or true is on; 0, no, false or unset is off; anything else stops make
# at once with one line (checked for every target, so a typo never silently means on or off).
BOOLEANS := TTA FORCE VERIFY BASELINE QUICK VERBOSE GPU
on = $(filter 1 yes true,$(strip $(1)))
$(foreach name,$(BOOLEANS),$(if $(filter-out 0 1 no yes false true,$(strip $($(name))))$(word 2,$($(name))),\
	$(error $(name)=$($(name)) is not a boolean: use 1, yes or true for on, 0, no or false for off)))

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
VARIANT  := $(if $(call on,$(GPU)),gpu,cpu)
REQUIREMENTS := $(if $(filter gpu,$(VARIANT)),requirements-gpu.txt,requirements.txt)

# $(call opt,--flag,$(VALUE)): the flag and its value, or nothing when the value is empty.
opt  = $(if $(strip $(2)),$(1) $(2))
# $(call flag,--flag,$(VALUE)): the bare flag when the boolean value is on.
comma := ,
space := $(subst ,, )
flag = $(if $(call on,$(2)),$(1))
COMMON = --out $(OUT) $(call flag,--verbose,$(VERBOSE))

.PHONY: all venv features heads finetune baseline report audit predict export bench docs lint test test-fast coverage clean

all: features heads finetune report

venv: $(VENV)/installed-$(VARIANT)
$(VENV)/installed-$(VARIANT): $(REQUIREMENTS) requirements.txt
	$(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r $(REQUIREMENTS)
	touch $@

# Each target's flags, from the variables that are set.
FEATURES_FLAGS = $(call opt,--data,$(DATA)) $(call opt,--backbone,$(BACKBONE)) $(call opt,--weights,$(WEIGHTS)) $(call opt,--image-size,$(IMG_SIZE)) \
	$(call opt,--layers,$(LAYERS)) $(call opt,--batch,$(BATCH)) $(call opt,--limit,$(LIMIT)) $(call opt,--engine,$(ENGINE)) \
	$(call opt,--dtype,$(DTYPE)) $(call flag,--force,$(FORCE)) $(call flag,--verify,$(VERIFY)) \
	$(call opt,--views,$(VIEWS)) $(call opt,--view-policy,$(VIEW_POLICY)) $(call opt,--cluster,$(CLUSTER)) \
	$(call opt,--scheduler,$(SCHEDULER)) $(call opt,--precision,$(PRECISION)) $(call opt,--calibration,$(CALIBRATION)) \
	$(call opt,--dev-fraction,$(DEV_FRACTION))
# BACKBONE, SEEDS, DEV_FRACTION, GROUPS and CLASS_WEIGHT mean the same for every method; FT_SEEDS, if set, overrides SEEDS for
# fine-tuning, the expensive one.
RUNS_FLAGS = $(call opt,--backbone,$(BACKBONE)) $(call opt,--dev-fraction,$(DEV_FRACTION)) $(call opt,--groups,$(GROUPS)) $(call opt,--class-weight,$(CLASS_WEIGHT))
HEADS_FLAGS = $(call opt,--heads,$(HEADS)) $(call opt,--epochs,$(EPOCHS)) $(call opt,--seeds,$(SEEDS)) $(RUNS_FLAGS) \
	$(call opt,--dense-recipe,$(DENSE_RECIPE)) $(call opt,--features,$(FEATURES)) $(call opt,--exclude,$(EXCLUDE)) $(call opt,--scheduler,$(SCHEDULER)) $(call opt,--memory-gb,$(MEMORY_GB)) \
	$(call opt,--search-rows,$(SEARCH_ROWS))
FINETUNE_FLAGS = $(call opt,--weights,$(WEIGHTS)) $(call opt,--epochs,$(FT_EPOCHS)) \
	$(call opt,--fine-tune-at,$(FINE_TUNE_AT)) $(call opt,--batch,$(BATCH)) \
	$(call opt,--seeds,$(or $(FT_SEEDS),$(SEEDS))) $(RUNS_FLAGS) $(call opt,--recipe,$(FT_RECIPE)) \
	$(call opt,--search-rates,$(FT_RATES)) $(call opt,--search-depths,$(FT_DEPTHS)) \
	$(call opt,--search-steps,$(FT_SEARCH_STEPS))
BASELINE_FLAGS = $(call opt,--weights,$(WEIGHTS)) $(call opt,--epochs,$(EPOCHS)) $(call opt,--batch,$(BATCH)) \
	$(call opt,--seeds,$(SEEDS)) $(RUNS_FLAGS)
REPORT_FLAGS = $(call opt,--backbone,$(BACKBONE)) $(call opt,--runs,$(subst $(space),$(comma),$(strip $(RUNS)))) $(call opt,--metric,$(METRIC))
AUDIT_FLAGS = $(call opt,--backbone,$(BACKBONE)) $(call opt,--similarity,$(SIMILARITY))
PREDICT_FLAGS = $(call opt,--backbone,$(BACKBONE)) $(call opt,--head,$(HEAD)) $(call opt,--weights,$(WEIGHTS)) $(call opt,--batch,$(BATCH)) \
	$(call flag,--tta,$(TTA)) $(call opt,--precision,$(PRECISION)) $(call opt,--top-k,$(TOP_K))
EXPORT_FLAGS = $(call opt,--backbone,$(BACKBONE)) $(call opt,--head,$(HEAD)) $(call opt,--weights,$(WEIGHTS)) $(call opt,--precision,$(PRECISION))
BENCH_FLAGS = $(call opt,--data,$(BENCH_DATA)) $(call opt,--weights,$(BENCH_WEIGHTS)) $(call flag,--quick,$(QUICK)) \
	$(call flag,--verbose,$(VERBOSE))

features: venv
	$(PY) -m extract $(strip $(COMMON) $(FEATURES_FLAGS))

heads: venv
	$(PY) -m classify $(strip $(COMMON) $(HEADS_FLAGS))

finetune: venv
	$(PY) -m finetune $(strip $(COMMON) $(FINETUNE_FLAGS))

baseline: venv
	$(PY) -m finetune.baseline $(strip $(COMMON) $(BASELINE_FLAGS))

report: venv $(if $(call on,$(BASELINE)),baseline)
	$(PY) -m report $(strip $(COMMON) $(REPORT_FLAGS))

audit: venv
	$(PY) -m audit $(strip $(COMMON) $(AUDIT_FLAGS))

predict: venv
	$(if $(IMAGES),,$(error IMAGES=<image files or folders> is required))
	$(PY) -m classify.predict $(IMAGES) $(strip $(COMMON) $(PREDICT_FLAGS))

export: venv
	$(PY) -m classify.export $(strip $(COMMON) $(EXPORT_FLAGS))

bench: venv
	$(PY) -m bench $(strip $(BENCH_FLAGS))

# docs/settings.md from the config dataclasses (a test fails while it is stale).
docs: venv
	$(PY) -m workflow.settings_doc

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The whole suite on TEST_WORKERS pytest-xdist workers (0: one process), a test file at a time, so that
# a module's shared fixtures are built once. It prints the 15 slowest tests and the budget's misses.
TEST_WORKERS ?= 2
PYTEST_WORKERS = $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadscope)
test: lint
	$(PY) -m pytest $(PYTEST_WORKERS) --durations=15

# The edit-test loop: the unit tier, without the end-to-end runs on ../shared or real clusters.
test-fast: venv
	$(PY) -m pytest -m "not e2e and not slow" -q $(PYTEST_WORKERS)

# Line and branch coverage of the packages over what CI runs (subprocesses included): the QUICK
# bench, whose rows CI checks by running them, then the whole suite.
coverage: venv
	$(PY) -m coverage erase
	$(PY) -m coverage run -m bench --quick $(call opt,--data,$(BENCH_DATA)) $(call opt,--weights,$(BENCH_WEIGHTS)) >/dev/null
	$(PY) -m coverage run -m pytest $(PYTEST_WORKERS) -q
	$(PY) -m coverage combine -q
	$(PY) -m coverage report --skip-covered --sort=cover

clean:
	rm -rf $(OUT)
