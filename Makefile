# Two commands do everything on a fresh machine (Python 3.11, no GPU):
#   make book   create the environment if missing, fetch/stage the data, run every chapter with
#               papermill under PROFILE (default cpu) and build the HTML book into _build/html
#   make test   create the environment if missing, stage the data, run every test (nbval included)
PY       ?= python3.11
VENV     ?= .venv
BIN      := $(VENV)/bin
PROFILE  ?= cpu
export LBSM_DATA    ?= $(HOME)/.cache/lbsm
export LBSM_RESULTS ?= $(CURDIR)/results
# where the official files may already be (CI: ../shared/data); else they are downloaded
export LBSM_SHARED  ?= $(CURDIR)/../shared/data

.PHONY: env data test test-fast book book-run book-html nbval-refs bench clean

env: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

data: env
	$(BIN)/python -m lbsm data stage

test: env data
	$(BIN)/python -m pytest -q tests

book: env data book-run book-html

book-run: env
	$(BIN)/python -m lbsm.book run --profile $(PROFILE)

book-html: env
	$(BIN)/jupyter-book build . -W -n --keep-going

nbval-refs: env data
	$(BIN)/python -m lbsm.book refs

bench: env data
	$(BIN)/python benchmarks/bench_trainer.py
	$(BIN)/python benchmarks/bench_sharpness.py

clean:
	rm -rf _build
