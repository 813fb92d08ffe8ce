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
PG_DIR ?= $(MEDALLION_HOME)/postgres
PG_PORT ?= 5433
PROD_PORT ?= 3001
PROD_MLFLOW_PORT ?= 5001
PROD_CODE_PORT ?= 4266
PROD_PG_PORT ?= 5434
PROD_REDIS_PORT ?= 6380
# Celery worker processes of the production profile, and the days per run its backfills are split into.
PROD_WORKERS ?= 2
PROD_RUN_DAYS ?= 30

.PHONY: install demo demo-drift test test-ui test-prod lint dev mlflow bench bench-prod clean pg-up pg-down prod-up prod-down prod-demo

install: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

# The demo's partitions end on its last day, so the UI shows no day missing that has no data to come
# (MEDALLION_END_DATE= make dev for partitions up to today).
demo dev: export MEDALLION_END_DATE ?= $(DEMO_END)

demo: install
	$(BIN)/medallion replay --start $(DEMO_START) --days $(DEMO_DAYS) --label-delay-days $(LABEL_DELAY_DAYS)
	$(BIN)/medallion launch etl_job --start $(DEMO_START) --end $(DEMO_END) --tag medallion/trigger=demo
	$(BIN)/medallion launch training_job --start $(DEMO_TRAIN_DAY) --tag medallion/trigger=demo
	$(BIN)/medallion launch inference_job --start $(DEMO_START) --end $(DEMO_LAST_APPLICATION_DAY) --tag medallion/trigger=demo
	$(BIN)/medallion launch monitoring_job --start $(DEMO_LAST_APPLICATION_DAY) --tag medallion/trigger=demo
	$(BIN)/medallion status
	@echo "Dagster UI: make dev, then open http://127.0.0.1:$(PORT)   MLflow UI: make mlflow, then http://127.0.0.1:$(MLFLOW_PORT)"

# Two workers (pytest-xdist), a test file per worker (module fixtures and in-file order hold): much of the suite
# waits on subprocesses and servers, so 2 cores run it in ~60 % of the serial time.
test: install
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile --ignore=medallion_tests/ui --ignore=medallion_tests/prod

# The UIs in headless Chromium (Debian's `chromium`, driven by Playwright): dagster dev, mlflow ui, a backfill
# through the webserver and the pages users open. MEDALLION_UPDATE_DOC_IMAGES=1 refreshes docs/img/.
test-ui: install
	$(BIN)/pytest -q -p no:cacheprovider medallion_tests/ui

# The production profile across processes: Redis and two Celery workers (Debian's `redis-server`) under one
# ProdStack, a backfill split into runs on both workers, a worker killed mid-run, Redis down at launch.
test-prod: install
	$(BIN)/pytest -q -p no:cacheprovider medallion_tests/prod

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

dev: install
	$(BIN)/dagster dev -h 127.0.0.1 -p $(PORT)

# One server process and no job runner (MLflow's GenAI jobs: 8 more processes, unused here): on 2 cores the default
# 4 workers + runner took about 45 s to answer.
mlflow: install
	mkdir -p $(MEDALLION_HOME)/mlflow/artifacts
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --workers 1 \
		--backend-store-uri "sqlite:///$(MEDALLION_HOME)/mlflow/mlflow.db" \
		--default-artifact-root "$(MEDALLION_HOME)/mlflow/artifacts" --host 127.0.0.1 --port $(MLFLOW_PORT)

# A PostgreSQL for serving on 127.0.0.1, from the machine's binaries; pg-up prints the variables to export.
pg-up: install
	$(BIN)/medallion pg-up --dir "$(PG_DIR)" --port $(PG_PORT)

pg-down: install
	$(BIN)/medallion pg-down --dir "$(PG_DIR)" --port $(PG_PORT)

# The production profile on this machine (MEDALLION_ENV=prod): PostgreSQL, Redis, an MLflow server, the gRPC code
# server, the webserver, PROD_WORKERS Celery workers and the daemon, each its own process group on 127.0.0.1, under
# $(MEDALLION_HOME)/prod.
prod-up: install
	$(BIN)/medallion prod-up --port $(PROD_PORT) --mlflow-port $(PROD_MLFLOW_PORT) --code-port $(PROD_CODE_PORT) \
		--pg-port $(PROD_PG_PORT) --redis-port $(PROD_REDIS_PORT) --workers $(PROD_WORKERS) --run-days $(PROD_RUN_DAYS)

prod-down: install
	$(BIN)/medallion prod-down

# The demo's story on the prod profile: each job's days submitted through the webserver as a backfill, split by the
# daemon into runs the workers execute.
prod-demo: prod-up
	$(BIN)/medallion replay --start $(DEMO_START) --days $(DEMO_DAYS) --label-delay-days $(LABEL_DELAY_DAYS)
	$(BIN)/medallion prod-run etl_job --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/medallion prod-run training_job --start $(DEMO_TRAIN_DAY)
	$(BIN)/medallion prod-run inference_job --start $(DEMO_START) --end $(DEMO_LAST_APPLICATION_DAY)
	set -a && . $(MEDALLION_HOME)/prod/env && $(BIN)/medallion status
	@echo "Dagster UI: http://127.0.0.1:$(PROD_PORT)   MLflow UI: http://127.0.0.1:$(PROD_MLFLOW_PORT)   stop: make prod-down"

bench: install
	$(BIN)/python -m benchmarks

bench-prod: install  # make bench plus the year backfill on the production profile (~12 more minutes)
	$(BIN)/python -m benchmarks --prod

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) .pytest_cache

# The retraining loop end to end on a drifting synthetic feed, on its own MEDALLION_HOME (wiped and rebuilt).
demo-drift: install
	$(BIN)/python -m medallion.tools.demo_drift --home $(CURDIR)/data/drift-demo
