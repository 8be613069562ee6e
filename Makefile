# Offline feature-cache workflow for transfer learning on images.
# `make all` runs every stage; `make test` runs the tests. The first use creates .venv.

DATA     ?= tfds:cats_vs_dogs
WEIGHTS  ?= imagenet
IMG_SIZE ?= 160
OUT      ?= artifacts
BATCH    ?= 32
LIMIT    ?=
ENGINE   ?= auto
HEAD     ?=
EPOCHS   ?= 10
FT_EPOCHS ?= 10
FINE_TUNE_AT ?= 100
BASELINE ?=
BENCH_DATA    ?= ../shared/data/cats_and_dogs_filtered
BENCH_WEIGHTS ?= ../shared/weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
QUICK    ?=
IMAGES   ?=

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
CACHE    := $(OUT)/features.h5

opt = $(if $(strip $(2)),$(1) $(2))

.PHONY: all venv features heads finetune baseline report predict export bench test clean

all: features heads finetune report

venv: $(VENV)/installed
$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

features: venv
	$(PY) -m extract --data $(DATA) --weights $(WEIGHTS) --image-size $(IMG_SIZE) --out $(OUT) \
		--batch $(BATCH) --engine $(ENGINE) $(call opt,--limit,$(LIMIT))

heads: venv
	$(PY) -m classify --out $(OUT) --head $(or $(HEAD),all) --epochs $(EPOCHS)

finetune: venv
	$(PY) -m finetune --out $(OUT) --weights $(WEIGHTS) --epochs $(FT_EPOCHS) --fine-tune-at $(FINE_TUNE_AT) \
		--batch $(BATCH) --verbose 2

baseline: venv
	$(PY) -m finetune.baseline --out $(OUT) --weights $(WEIGHTS) --epochs $(EPOCHS) --batch $(BATCH)

report: venv $(if $(BASELINE),baseline)
	$(PY) -m finetune.report --out $(OUT)

predict: venv
	$(if $(IMAGES),,$(error IMAGES=<image files or folders> is required))
	$(PY) -m classify.predict $(IMAGES) --out $(OUT) --head $(or $(HEAD),logreg) --weights $(WEIGHTS) --batch $(BATCH)

export: venv
	$(PY) -m classify.export --out $(OUT) --head $(or $(HEAD),logreg) --weights $(WEIGHTS)

bench: venv
	$(PY) -m extract.bench --data $(BENCH_DATA) --weights $(BENCH_WEIGHTS) $(if $(QUICK),--quick)

test: venv
	$(PY) -m pytest

clean:
	rm -rf $(OUT)
