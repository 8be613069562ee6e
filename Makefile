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

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
CACHE    := $(OUT)/features.h5

opt = $(if $(strip $(2)),$(1) $(2))

.PHONY: all venv features heads test clean

all: features heads

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

test: venv
	$(PY) -m pytest

clean:
	rm -rf $(OUT)
