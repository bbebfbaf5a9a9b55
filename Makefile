# Two commands do all set-up from a fresh clone:
#   make demo   creates .venv, installs everything, builds the viewer, runs the main job
#   make test   the same set-up (plus Debian's chromium when missing), then the whole test suite
# Both are idempotent. Set-up installs torch==2.13.0 first so nothing pulls a CUDA build here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VIEWER := nnviz3d/viewer_dist/index.html
NODE_STAMP := web/node_modules/.package-lock.json
WEB_SOURCES := $(wildcard web/src/*) web/index.html web/vite.config.ts web/tsconfig.json
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba

.PHONY: setup demo test bench clean chromium

# The Python set-up (pip, mostly one core) and the viewer's (npm) run side by side.
setup:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(VIEWER)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pip byte-compiles on one core; compileall does the same files on all of them (~20 s less here),
# torch's while pip installs the rest, and not the packages' own test suites, which nothing
# imports. Byte code is made at install time because imports may not write it
# (PYTHONDONTWRITEBYTECODE). `|| true`, as pip: a few files in packages are not Python 3.11.
COMPILE := $(BIN)/python -m compileall -qq -j 0 -x '/tests?/'
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(COMPILE) $(VENV)/lib/python3*/site-packages/torch >/dev/null 2>&1 & \
	$(BIN)/pip install --quiet --no-compile -e '.[all,test]'; status=$$?; wait; exit $$status
	$(COMPILE) $(VENV)/lib || true
	touch $(STAMP)

$(NODE_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(VIEWER): $(NODE_STAMP) $(WEB_SOURCES)
	cd web && npm run --silent build

# Browser tests drive Debian's chromium; install it when missing (needs root, as CI has).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

demo: setup
	$(BIN)/nnviz3d demo

test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist worksteal

bench: setup
	$(BIN)/pip install --quiet -e '.[all,bench]'
	$(BIN)/python bench/capture_overhead.py --rounds 5
	$(BIN)/python bench/topology.py
	$(BIN)/python bench/viewer.py
	$(BIN)/python bench/gltf_export.py
	$(BIN)/python bench/umap_warm.py --rounds 3
	$(BIN)/python bench/notebook_widget.py
	$(BIN)/python bench/live_feed_history.py
	$(BIN)/python bench/first_view.py
	$(BIN)/python bench/page_load.py --rounds 5

clean:
	rm -rf $(VENV) .cache build *.egg-info nnviz3d/viewer_dist web/node_modules
