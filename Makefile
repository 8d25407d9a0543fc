# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv with the pinned dependencies when it is missing (or requirements changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mimflow-installed
CORES ?= 2
# pytest-xdist workers for make test and make test-fast (tests/conftest.py groups the tests that share a
# long session fixture or the SLURM cluster onto one worker each)
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

.PHONY: demo test test-fast test-unit bench lint real-data

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile presets/demo.yaml
	$(BIN)/snakemake --cores $(CORES) --configfile presets/demo.yaml --report results/report.html
	@echo "Demo finished: results/report.html, tables in results/tables/"
	@$(BIN)/python -m mimflow.core.summary results

# Real Fashion-MNIST, offline: Debian's package dataset-fashion-mnist (the official IDX files) for the
# real-data tests and presets/pca-fmnist.yaml (docs/data.md). Installed with apt-get where this user may
# (root, or sudo without a password); otherwise one line says how, and the real-data tests are skipped.
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
real-data:
	@test -d $(FASHION_MNIST_DIR) || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then echo "make: $(FASHION_MNIST_DIR) is missing: run 'sudo apt-get install dataset-fashion-mnist' for the real-data tests"; \
	  else $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null || \
	    { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }; fi; }

test: $(STAMP) real-data
	$(PYTEST) tests

# The inner loop: unit tests and the quick checks, no real Snakemake job and no SLURM cluster.
test-fast: $(STAMP)
	$(PYTEST) -m "not slurm and not workflow" tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/snakemake --lint

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/grid_bench.py
