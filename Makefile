# Two commands do everything on a fresh machine (Python 3.11, no GPU):
#   make book   create the environment if missing, fetch/stage the data, render every chapter with
#               papermill under PROFILE (default cpu) from the published results (results/),
#               computing only what is missing, and build the HTML book into _build/html
#   make test   create the environment if missing, stage the data, run every test (nbval included)
PY       ?= python3.11
VENV     ?= .venv
BIN      := $(VENV)/bin
PROFILE  ?= cpu
export LBSM_DATA    ?= $(HOME)/.cache/lbsm
export LBSM_RESULTS ?= $(CURDIR)/results
# where the official files may already be (CI: ../shared/data); else they are downloaded
export LBSM_SHARED  ?= $(CURDIR)/../shared/data

.PHONY: browser env data test test-fast test-nbval book book-run book-html book-static recompute gpu-parts nbval-refs bench clean

# nbval: the smoke-profile references in tests/nbval/ are re-executed in a fresh, temporary results
# store (so every run trains), every cell must run, and NBVAL_CHECK_OUTPUT cells must match
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-sanitize-with=tests/nbval/sanitize.cfg -p no:cacheprovider

env: $(VENV)/.installed
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Debian's chromium and chromium-driver for tests/test_browser.py (the book in a real browser),
# installed where missing when run as root (CI); elsewhere that test says how and skips
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "note: apt-get install chromium chromium-driver to run tests/test_browser.py"; fi; fi

data: env
	$(BIN)/python -m lbsm data stage

test: env data browser
	$(BIN)/python -m pytest -q tests
	$(MAKE) --no-print-directory test-nbval

test-nbval: env data
	tmp=$$(mktemp -d) && LBSM_RESULTS=$$tmp LBSM_CSV_DIR=$$tmp/csv $(BIN)/python -m pytest -q $(NBVAL_FLAGS) tests/nbval/; \
	  rc=$$?; rm -rf $$tmp; exit $$rc

book: env data book-run book-html

book-run: env
	$(BIN)/python -m lbsm.book run --profile $(PROFILE)

book-html: env book-static
	$(BIN)/jupyter-book build . -W -n --keep-going

# the site's extra files (_site/, copied to the site's root): MathJax 3 (no CDN: the es5 bundle of
# the pinned django-static-mathjax), one zip of every CSV the book shows (book/csv) and the source:
# a zip of the checkout at the built commit (`git archive HEAD`), which every page links while
# _config.yml sets no repository url (book/_ext/book_site.py)
book-static: env
	@mkdir -p _site && rm -rf _site/mathjax && cp -r "$$($(BIN)/python -c 'import mathjax, pathlib; print(pathlib.Path(mathjax.__file__).parent / "static/mathjax/es5")')" _site/mathjax
	@rm -f _site/lbsm-book-data.zip && cd book/csv && $(CURDIR)/$(BIN)/python -m zipfile -c $(CURDIR)/_site/lbsm-book-data.zip .
	@rm -f _site/lbsm-source-*.zip && if commit=$$(git rev-parse --short HEAD 2>/dev/null); then \
	  git archive --format=zip --prefix=lbsm-$$commit/ -o _site/lbsm-source-$$commit.zip HEAD; \
	else echo "note: not a git checkout: the site links no source archive"; fi

# CIFAR-10 in parts of <= 45 MB with their md5s, for a GPU window reached through 64 MiB transfers
# (README, "On a GPU"), and the source stamp that names the commit there, where no .git travels
# (lbsm.core.source; refused from uncommitted code)
gpu-parts: env
	$(BIN)/python -m lbsm data split --parts .gpu-parts
	$(BIN)/python -c "from lbsm.core import source; print('source stamp of commit', source.write_stamp()['commit'])"

# everything of PROFILE recomputed into an empty store (RESULTS=path; the published one is untouched)
RESULTS ?= $(CURDIR)/results-recomputed
recompute: env data
	LBSM_RESULTS=$(RESULTS) $(BIN)/python -m lbsm compute all --profile $(PROFILE)

# after editing a chapter: re-make the smoke references nbval compares with (fresh temporary store)
nbval-refs: env data
	$(BIN)/python -m lbsm.book refs

bench: env data
	$(BIN)/python benchmarks/bench_trainer.py
	$(BIN)/python benchmarks/bench_sharpness.py
	$(BIN)/python benchmarks/bench_compute.py
	$(BIN)/python benchmarks/bench_cli.py
	$(BIN)/python benchmarks/bench_c1.py
	$(BIN)/python benchmarks/table.py --update README.md

clean:
	rm -rf _build
