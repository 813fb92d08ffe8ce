# Two commands set up a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DAGSTER_HOME := $(CURDIR)/.dagster
export DAGSTER_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export MEDALLION_HOME ?= $(CURDIR)/data

DEMO_START ?= 2025-01-01
DEMO_DAYS ?= 120
LABEL_DELAY_DAYS ?= 30
DEMO_END := $(shell date -u -d "$(DEMO_START) + $$(( $(DEMO_DAYS) + $(LABEL_DELAY_DAYS) - 1 )) days" +%F)
PORT ?= 3000

.PHONY: install demo test dev bench clean

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

demo: install
	$(BIN)/medallion replay --start $(DEMO_START) --days $(DEMO_DAYS) --label-delay-days $(LABEL_DELAY_DAYS)
	$(BIN)/dg launch --job etl_job --partition-range "$(DEMO_START)...$(DEMO_END)"
	$(BIN)/medallion status
	@echo "UI: make dev, then open http://127.0.0.1:$(PORT)"

test: install
	$(BIN)/pytest -q -p no:cacheprovider

dev: install
	$(BIN)/dagster dev -h 127.0.0.1 -p $(PORT)

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) .pytest_cache
