# Two commands do all set-up from a fresh clone:
#   make demo   creates .venv, installs everything, runs the main job
#   make test   the same set-up, then the whole test suite
# Both are idempotent. Set-up installs torch==2.13.0 first so nothing pulls a CUDA build here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/nnviz3d inspect nnviz3d.zoo:digits_cnn

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/topology.py

clean:
	rm -rf $(VENV) .cache build *.egg-info
