# Both targets bootstrap .venv themselves; running them again only re-installs when
# pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch, installed only when the venv has no torch at all. Labs with CUDA
# install their own torch first; the project's range accepts it. Where torch==2.13.0 would
# come from PyPI as a CUDA build, add pip options, e.g.
#   make TORCH_CPU="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" test
TORCH_CPU ?= torch==2.13.0
REPORT ?= hil-report.json
ARTIFACTS ?= hil-artifacts

.PHONY: setup test run lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet $(TORCH_CPU)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

test: setup
	$(BIN)/python -m pytest -n 2 tests

run: setup
	$(BIN)/speck-hil recordings verify --dir recordings
	$(BIN)/python -m pytest tests/hil --hil-report $(REPORT) --hil-artifacts $(ARTIFACTS)

lint: setup
	$(BIN)/ruff check hil tests
	$(BIN)/ruff format --check hil tests
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable -p no:xdist

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
