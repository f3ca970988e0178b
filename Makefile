# Every target creates .venv when missing and installs the project with its dev extras.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/slipway demo

# Everything (CI). Tiers are markers from the folder: unit, integration, e2e; slow = starts
# processes. See tests/conftest.py.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Unit tests and the integration tests that start no process: the loop while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# The benchmarks (under 10 minutes on 2 cores); rewrites docs/BENCHMARKS.md. OLD_SRC=DIR adds
# the old code's 100-project run from another checkout, kept in benchmarks/baseline.json.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all $(if $(OLD_SRC),--old-src $(OLD_SRC)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .slipway .pytest_cache .mypy_cache .ruff_cache
