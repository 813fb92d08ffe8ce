# Two commands set up a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DAGSTER_HOME := $(CURDIR)/.dagster
# dg warns unless the project's venv is the active one; for commands run from here, it is.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export DAGSTER_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export MEDALLION_HOME ?= $(CURDIR)/data

DEMO_START ?= 2025-01-01
DEMO_DAYS ?= 120
LABEL_DELAY_DAYS ?= 30
DEMO_END := $(shell date -u -d "$(DEMO_START) + $$(( $(DEMO_DAYS) + $(LABEL_DELAY_DAYS) - 1 )) days" +%F)
DEMO_LAST_APPLICATION_DAY := $(shell date -u -d "$(DEMO_START) + $$(( $(DEMO_DAYS) - 1 )) days" +%F)
# Train on an early day, so the days after it are scored by a model that never saw them (out-of-sample).
DEMO_TRAIN_AFTER_DAYS ?= 60
DEMO_TRAIN_DAY := $(shell date -u -d "$(DEMO_START) + $$(( $(DEMO_TRAIN_AFTER_DAYS) )) days" +%F)
PORT ?= 3000
MLFLOW_PORT ?= 5000

.PHONY: install demo demo-drift test lint dev mlflow bench clean

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

demo: install
	$(BIN)/medallion replay --start $(DEMO_START) --days $(DEMO_DAYS) --label-delay-days $(LABEL_DELAY_DAYS)
	$(BIN)/dg launch --job etl_job --partition-range "$(DEMO_START)...$(DEMO_END)"
	$(BIN)/dg launch --job training_job --partition "$(DEMO_TRAIN_DAY)"
	$(BIN)/dg launch --job inference_job --partition-range "$(DEMO_START)...$(DEMO_LAST_APPLICATION_DAY)"
	$(BIN)/medallion status
	@echo "Dagster UI: make dev, then open http://127.0.0.1:$(PORT)   MLflow UI: make mlflow, then http://127.0.0.1:$(MLFLOW_PORT)"

test: install
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

dev: install
	$(BIN)/dagster dev -h 127.0.0.1 -p $(PORT)

mlflow: install
	mkdir -p $(MEDALLION_HOME)/mlflow/artifacts
	$(BIN)/mlflow ui --backend-store-uri "sqlite:///$(MEDALLION_HOME)/mlflow/mlflow.db" \
		--default-artifact-root "$(MEDALLION_HOME)/mlflow/artifacts" --host 127.0.0.1 --port $(MLFLOW_PORT)

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) .pytest_cache

# The retraining loop end to end on a drifting synthetic feed, on its own MEDALLION_HOME (wiped and rebuilt).
demo-drift: install
	$(BIN)/python -m medallion.tools.demo_drift --home $(CURDIR)/data/drift-demo
