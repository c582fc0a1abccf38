# Pantau: `make demo` runs the whole system locally, `make test` runs the suite.
# Both install what they need: Debian packages (when root) and a virtual environment in .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients influxdb influxdb-client victoria-metrics iperf3 \
	iputils-ping iproute2 chromium nftables openssl python3-venv
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup system-packages venv test lint demo bench dist clean

setup: system-packages venv

system-packages:
	@bash .ci/system-packages.sh $(APT_PACKAGES)

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		echo "error: cannot create a virtual environment; install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[collector,dev,deploy]'
	@rm -f $(VENV)/.installed-* && touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash tests/run_suite.sh $(BIN)

demo: setup
	$(BIN)/pantau demo

bench: setup
	$(BIN)/python bench/collector_throughput.py

# The wheel and the sdist, for an agent install on a machine without the project (README).
DIST ?= dist
dist: venv
	rm -f $(DIST)/pantau-*.whl $(DIST)/pantau-*.tar.gz
	$(BIN)/python -m build --no-isolation --outdir $(DIST) .
	@ls -1 $(DIST)/pantau-*

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache out
