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

.PHONY: demo test test-fast test-unit bench lint

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

test: $(STAMP)
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
