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

.PHONY: demo test test-fast test-unit bench lint real-data browser

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

# Debian packages some tests read, installed with apt-get where this user may (root, or sudo without a
# password); otherwise one line says how, and those tests are skipped. $(1): what must exist, $(2): package,
# $(3): what it is for.
define apt_install
	@test -e $(1) || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then echo "make: $(1) is missing: run 'sudo apt-get install $(2)' for $(3)"; \
	  else $$SUDO apt-get install -y -q $(2) >/dev/null || \
	    { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $(2) >/dev/null; }; fi; }
endef

# Real Fashion-MNIST, offline: Debian's package dataset-fashion-mnist (the official IDX files) for the
# real-data tests and presets/pca-fmnist.yaml (docs/data.md).
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
real-data:
	$(call apt_install,$(FASHION_MNIST_DIR),dataset-fashion-mnist,the real-data tests)

# Headless Chromium for the browser checks of the scorecard page and the report (tests/browser.py).
CHROMIUM := /usr/bin/chromium-headless-shell
browser:
	@command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null || \
	  $(MAKE) --no-print-directory $(CHROMIUM)

$(CHROMIUM):
	$(call apt_install,$(CHROMIUM),chromium-headless-shell,the browser checks)

test: $(STAMP) real-data browser
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
