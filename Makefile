# Every target creates .venv when missing and installs the project with its dev extras.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean

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

clean:
	rm -rf $(VENV) .slipway .pytest_cache .mypy_cache .ruff_cache
