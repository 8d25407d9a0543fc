# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv with the pinned dependencies when it is missing (or requirements changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mimflow-installed
CORES ?= 2

.PHONY: demo test test-unit test-workflow bench lint clean-results

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile presets/demo.yaml
	$(BIN)/snakemake --cores $(CORES) --configfile presets/demo.yaml --report results/report.html
	@echo "Demo finished: results/report.html, tables in results/tables/"
	@for f in results/tables/*_summary.csv; do echo "== $$f"; cut -d, -f2-5,6-8,51-53 $$f 2>/dev/null | head -n 20; done

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/snakemake --lint

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py
