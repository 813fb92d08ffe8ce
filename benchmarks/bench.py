"""The benchmark run: inputs generated once per size into a temporary folder, every variant in its own process.

`run(config, out_dir)` measures everything `config` asks for and writes RESULTS.md and results.json into
`out_dir`; `make bench` runs `Config()` into benchmarks/, the smoke test `Config.smoke_config()` into a tmp dir.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import etl, inputs, ml, orchestration, serving
from benchmarks.harness import measure, row
from benchmarks.report import write_report

PROJECT_DIR = Path(__file__).resolve().parent.parent
BACKFILL_START = date(2025, 1, 1)  # the project's default MEDALLION_START_DATE
MEDALLION_PRELOAD = (
    "duckdb",
    "polars",
    "pyarrow.dataset",  # DuckDB imports it on its first Arrow scan (~0.4 s): an import, like the others here
    "medallion.logic.etl.ingestion",
    "medallion.logic.etl.cleaning",
    "medallion.logic.etl.features",
)

ML_PRELOAD = ("medallion.logic.ml.training", "medallion.logic.ml.scoring", "pandas")
SERVING_PRELOAD = ("polars", "pandas", "psycopg2", "sqlalchemy", "deltalake", "duckdb", "medallion.resources.serving")


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (100_000, 1_000_000, 5_000_000)
    dg_launch_sizes: tuple[int, ...] = (100_000, 1_000_000)
    backfill_days: int = 365
    backfill_rows_per_day: int = 10_000
    memory_by_days: tuple[int, ...] = (30, 90, 180)  # shorter ranged runs beside the year: peak RSS by days
    event_batch_size: int = 1000
    launch_rows: int = 1_000
    startup_repeats: int = 3
    training_rows: int = 15_000
    scoring_rows: int = 1_000_000
    row_by_row_rows: int = 2_000
    serving_days: int = 30
    serving_rows_per_day: int = 10_000
    smoke: bool = False
    # The year on the production profile (DuckLake + PostgreSQL instance storage) takes ~6 minutes per variant with
    # per-day check results: `make bench-prod` adds it, so that `make bench` stays within 15 minutes.
    prod_backfill: bool = False
    prod_workers: tuple[int, ...] = (1, 2)
    prod_run_days: int = 30

    @classmethod
    def smoke_config(cls) -> Config:
        """Tiny sizes for the smoke test: every section runs, nothing is big; no dg launch beside the ETL variants
        (the start-up section still launches one small partition)."""
        return cls(
            sizes=(2_000,),
            dg_launch_sizes=(),
            backfill_days=3,
            backfill_rows_per_day=200,
            memory_by_days=(2,),
            launch_rows=200,
            startup_repeats=1,
            training_rows=3_000,
            scoring_rows=5_000,
            row_by_row_rows=50,
            serving_days=3,
            serving_rows_per_day=200,
            smoke=True,
            prod_backfill=True,
            prod_workers=(),  # a stack per worker count takes minutes to start: make bench-prod only
        )


def run(config: Config, out_dir: Path) -> dict:
    """Measure everything, write `out_dir`/RESULTS.md and results.json, and return what was written."""
    from medallion.components import project_datasets

    began = time.perf_counter()
    before = environment()
    feed = project_datasets()["credit_default"].loaded_contract.entity
    work = Path(tempfile.mkdtemp(prefix="medallion-bench-"))
    work.chmod(0o755)  # the production profile's PostgreSQL (run as `postgres` under root) must enter it
    rows: list[dict] = []
    setup: dict[str, float] = {}
    prod_backfill_s = None
    try:
        inputs_by_size = {}
        for size in config.sizes:
            home = work / f"etl-{size}"
            started = time.perf_counter()
            built = measure(inputs.build_landing_day, str(home), size)
            setup[f"input {size:,} rows"] = round(time.perf_counter() - started, 1)
            if "error" in built:
                raise RuntimeError(f"building the {size:,}-row input failed:\n{built['error']}")
            inputs_by_size[size] = {k: v for k, v in built.items() if k not in ("seconds", "peak_rss_mb")}
            rows += etl_rows(config, feed, size, home, work, inputs_by_size[size])
            shutil.rmtree(home, ignore_errors=True)

        year = year_input(config, work)
        rows += backfill_rows(config, work, year)
        if config.prod_backfill:
            started = time.perf_counter()
            rows += prod_backfill_rows(config, work, year)
            rows += prod_worker_rows(config, work, year)
            prod_backfill_s = round(time.perf_counter() - started, 1)
        shutil.rmtree(year, ignore_errors=True)
        rows += startup_rows(config, work)
        rows += ml_rows(config)
        rows += serving_rows(config, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - began
    after = environment()
    meta = {
        **before,
        "commit_at_end": after["commit"],
        "uncommitted_at_end": after["uncommitted"],
        "load_average_at_end": after["load_average"],
        "elapsed_s": round(elapsed, 1),
        "setup_s": setup,
        "prod_backfill_s": prod_backfill_s,
        "config": asdict(config),
    }
    results = {
        "meta": meta,
        "inputs": {str(k): {n: v for n, v in m.items() if n != "files"} for k, m in inputs_by_size.items()},
        "rows": rows,
    }
    write_report(results, Path(out_dir))
    return results


def etl_rows(config: Config, feed, size: int, home: Path, work: Path, landed: dict) -> list[dict]:
    files = landed["files"]
    name = f"landing → DuckDB, {size:,} rows"
    common = {"size": size, "lines": landed["lines"]}
    databases = work / f"db-{size}"
    databases.mkdir()
    out = [
        row(
            "etl",
            name,
            "medallion",
            size,
            {
                **common,
                **measure(
                    etl.medallion_path, feed, files, str(databases / "medallion.duckdb"), preload=MEDALLION_PRELOAD
                ),
            },
        ),
        row(
            "etl",
            name,
            "duckdb floor",
            size,
            {**common, **measure(etl.duckdb_floor, feed, files, str(databases / "floor.duckdb"), preload=("duckdb",))},
        ),
        row(
            "etl",
            name,
            "pandas",
            size,
            {
                **common,
                **measure(
                    etl.pandas_baseline, feed, files, str(databases / "pandas.duckdb"), preload=("pandas", "duckdb")
                ),
            },
        ),
    ]
    if size in config.dg_launch_sizes:
        instance = orchestration.dagster_home(work / f"dagster-{size}")
        result = measure(etl.dg_launch, feed.name, str(home), str(instance))
        out.append(row("etl", name, "dg launch", size, {**common, **result}))
    shutil.rmtree(databases, ignore_errors=True)
    return out


def year_input(config: Config, work: Path) -> Path:
    home = work / "year"
    built = measure(inputs.build_year, str(home), BACKFILL_START, config.backfill_days, config.backfill_rows_per_day)
    if "error" in built:
        raise RuntimeError(f"building the backfill input failed:\n{built['error']}")
    return home


def year_benchmark(config: Config) -> str:
    return f"etl_job, {config.backfill_days} days × {config.backfill_rows_per_day:,} rows, one run"  # as backfill_rows


def backfill_rows(config: Config, work: Path, home: Path) -> list[dict]:
    """The year as one run, and shorter ranges of the same input on a fresh warehouse each: a ranged run's peak memory
    should not grow with its days (it works through them in slices)."""
    # Locally, batching makes no difference (130.3 s vs 129.0 s before per-day check results, which Dagster does not
    # batch; 136.5 s vs 137.2 s with them, on the pooled event log); only Dagster's default (unbatched) runs.
    per_day, out = config.backfill_rows_per_day, []
    lengths = sorted({min(n, config.backfill_days) for n in (*config.memory_by_days, config.backfill_days)})
    for days in lengths:
        for stale in ("warehouse.duckdb", "warehouse.duckdb.wal"):
            (home / stale).unlink(missing_ok=True)
        result = measure(orchestration.backfill, str(home), str(work / f"instance-{days}"), BACKFILL_START, days, 0)
        variant = "local, in process, DAGSTER_EVENT_BATCH_SIZE=0 (unbatched)"
        name = f"etl_job, {days} days × {per_day:,} rows, one run"
        out.append(row("backfill", name, variant, days * per_day, {"days": days, **result}))
    return out


def prod_backfill_rows(config: Config, work: Path, home: Path) -> list[dict]:
    """The same year on the production profile: DuckLake on a PostgreSQL catalog, PostgreSQL instance storage."""
    from medallion.tools.local_postgres import LocalPostgres, free_port

    days, per_day = config.backfill_days, config.backfill_rows_per_day
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="medallion-bench-pg-")), free_port())
    server.start()
    out = []
    try:
        server.execute("alter system set synchronous_commit = off")  # as make prod-up sets it for the dagster database
        server.execute("select pg_reload_conf()")
        for batch in (0, config.event_batch_size):
            env = {
                "MEDALLION_ENV": "prod",
                "MEDALLION_HOME": str(home),
                "MEDALLION_DAGSTER_PG_URL": server.create_database(f"dagster_{batch}").replace(
                    "postgresql://", "postgresql+psycopg2://", 1
                ),
                "MEDALLION_LAKE_CATALOG_URL": server.create_database(f"lake_{batch}"),
                "MEDALLION_LAKE_DATA_PATH": str(work / f"lake-{batch}"),
                "MEDALLION_MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # required by prod, unused by etl_job
            }
            variant = f"prod (DuckLake + PostgreSQL storage), DAGSTER_EVENT_BATCH_SIZE={batch}"
            instance = work / f"instance-prod-{batch}"
            result = measure(orchestration.backfill, str(home), str(instance), BACKFILL_START, days, batch, env)
            out.append(row("backfill", year_benchmark(config), variant, days * per_day, {"days": days, **result}))
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
    return out


def prod_worker_rows(config: Config, work: Path, year: Path) -> list[dict]:
    """The year as `make prod-up` runs it: submitted through the webserver as one backfill, split by the daemon into
    runs of PROD_RUN_DAYS days that 1, then 2, Celery workers execute; each variant on its own stack and lake."""
    from medallion.tools.prod_stack import ProdStack

    days, per_day = config.backfill_days, config.backfill_rows_per_day
    last = BACKFILL_START + timedelta(days=days - 1)
    out = []
    for workers in config.prod_workers:
        home = work / f"prod-workers-{workers}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "landing").symlink_to(year / "landing")
        stack = ProdStack(home, _free_ports(), workers=workers, days_per_run=config.prod_run_days)
        try:
            stack.up()
            started = time.perf_counter()
            outcome = stack.run("etl_job", BACKFILL_START.isoformat(), last.isoformat(), timeout=7200)
            seconds = time.perf_counter() - started
            ran_on = sorted({run.worker for run in outcome.runs if run.worker})
            result = {
                "seconds": seconds,
                "success": outcome.succeeded,
                "days": days,
                "runs": len(outcome.runs),
                "workers_used": len(ran_on),
            }
        except Exception as error:  # a failing variant is reported, the bench goes on
            result = {"error": f"{type(error).__name__}: {error}"}
        finally:
            stack.down()
            stack.postgres.stop()
        variant = f"prod, {workers} Celery worker(s), runs of {config.prod_run_days} days through the webserver"
        out.append(row("backfill", year_benchmark(config), variant, days * per_day, result))
        shutil.rmtree(home, ignore_errors=True)
    return out


def _free_ports():
    from medallion.tools.local_postgres import free_port
    from medallion.tools.prod_stack import Ports

    return Ports(*(free_port() for _ in range(5)))


def startup_rows(config: Config, work: Path) -> list[dict]:
    home = work / "startup"
    built = measure(inputs.build_landing_day, str(home), config.launch_rows)
    if "error" in built:
        raise RuntimeError(f"building the launch input failed:\n{built['error']}")
    repeats = config.startup_repeats
    out = [
        row(
            "startup",
            "import medallion.definitions",
            f"python -c, best of {repeats}",
            0,
            measure(orchestration.import_seconds, str(home), repeats),
        ),
        row(
            "startup",
            "import dagster (the floor of the import above)",
            f"python -c, best of {repeats}",
            0,
            measure(orchestration.import_seconds, str(home), repeats, "dagster"),
        ),
        row(
            "startup",
            "code location load",
            f"import + defs() + repository, best of {repeats}",
            0,
            measure(orchestration.code_location_load, str(home), repeats),
        ),
    ]
    # A user's daily launch meets an instance that exists; the first one on a new instance also creates its databases.
    for variant, existing in (("dg launch, existing instance", True), ("dg launch, new instance", False)):
        landing = work / f"startup-{existing}"
        shutil.copytree(home / "landing", landing / "landing")  # a warehouse of its own, as on the day's first run
        instance = orchestration.dagster_home(work / f"dagster-startup-{existing}")
        if existing:
            measure(orchestration.create_instance, str(instance))
        launch = measure(etl.dg_launch, "applications", str(landing), str(instance))
        benchmark = f"dg launch, one partition of {config.launch_rows:,} rows"
        out.append(row("startup", benchmark, variant, config.launch_rows, launch))
    return out


def ml_rows(config: Config) -> list[dict]:
    window = ml.labelled_window(config.training_rows)
    training = f"training, 90-day window ({window.height:,} labelled rows)"
    out = [
        row(
            "ml",
            training,
            "3 candidates, time-based validation",
            window.height,
            measure(ml.train_all, window, preload=ML_PRELOAD),
        ),
        row(
            "ml",
            training,
            "baseline: logistic regression only",
            window.height,
            measure(ml.train_baseline, window, preload=ML_PRELOAD),
        ),
    ]
    pipeline = ml.fitted_pipeline(window)
    features = ml.scoring_input(config.scoring_rows)
    out.append(
        row(
            "ml",
            "inference",
            "medallion score_features (vectorised)",
            config.scoring_rows,
            measure(ml.score_medallion, pipeline, features, preload=ML_PRELOAD),
        )
    )
    out.append(
        row(
            "ml",
            "inference",
            "floor: the model's predict_proba alone, on a ready matrix",
            config.scoring_rows,
            measure(ml.predict_only, pipeline, features, preload=ML_PRELOAD),
        )
    )
    sample = features.head(config.row_by_row_rows)
    out.append(
        row(
            "ml",
            "inference",
            f"baseline: row-by-row predict_proba ({sample.height:,} rows)",
            sample.height,
            measure(ml.score_row_by_row, pipeline, sample, preload=ML_PRELOAD),
        )
    )
    return out


def serving_rows(config: Config, work: Path) -> list[dict]:
    """A month of predictions into each target, beside the floor (and pandas for PostgreSQL), on a PostgreSQL
    started for the run from the machine's binaries."""
    from medallion.tools.local_postgres import LocalPostgres, free_port

    days, per_day = config.serving_days, config.serving_rows_per_day
    load = serving.medallion_load
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="medallion-bench-pg-")), free_port())
    server.start()
    try:
        pg = server.create_database
        variants = [
            ("postgres", "medallion, one ranged run", load, ("postgres", pg("bench_ranged"), days, per_day, True)),
            ("postgres", "medallion, day by day", load, ("postgres", pg("bench_daily"), days, per_day, False)),
            ("postgres", "floor: one COPY, no key or index", serving.postgres_copy_floor, (pg("bench_floor"),)),
            ("postgres", "pandas to_sql, multi-row INSERT", serving.postgres_pandas_to_sql, (pg("bench_pandas"),)),
            ("delta", "medallion, one ranged run", load, ("delta", str(work / "delta-r"), days, per_day, True)),
            ("delta", "medallion, day by day", load, ("delta", str(work / "delta-d"), days, per_day, False)),
            ("delta", "floor: one partitioned append", serving.delta_append_floor, (str(work / "delta-f"),)),
            ("duckdb", "medallion, one ranged run", load, ("duckdb", str(work / "sr.duckdb"), days, per_day, True)),
            ("duckdb", "medallion, day by day", load, ("duckdb", str(work / "sd.duckdb"), days, per_day, False)),
            ("duckdb", "floor: create table as", serving.duckdb_insert_floor, (str(work / "sf.duckdb"),)),
        ]
        out = []
        for target, variant, function, args in variants:
            if function is not load:
                args = (*args, days, per_day)
            result = measure(function, *args, preload=SERVING_PRELOAD)
            name = f"serving, {days} days × {per_day:,} rows"
            out.append(row("serving", name, f"{target}: {variant}", days * per_day, {"target": target, **result}))
        return out
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def environment() -> dict:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    memory_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, {memory_kb / 1024**2:.0f} GiB RAM",
        "os": platform.platform(),
        "versions": {
            "python": platform.python_version(),
            **{p: version(p) for p in ("polars", "duckdb", "pandas", "dagster", "pyarrow", "scikit-learn")},
        },
        "commit": git("log", "-1", "--oneline"),
        "uncommitted": git("status", "--porcelain", "--", "medallion").splitlines(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "project_event_batch_size": _project_default("DAGSTER_EVENT_BATCH_SIZE"),
    }


def _project_default(name: str) -> str | None:
    """The value medallion.settings sets for `name` in every process that loads the definitions, if any."""
    from medallion import settings

    return getattr(settings, "PROCESS_DEFAULTS", {}).get(name)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (what the smoke test runs)")
    parser.add_argument("--prod", action="store_true", help="also the year backfill on the production profile")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where RESULTS.md goes")
    args = parser.parse_args(argv)
    config = Config.smoke_config() if args.smoke or os.environ.get("MEDALLION_BENCH_SMOKE") else Config()
    config = replace(config, prod_backfill=config.prod_backfill or args.prod)
    results = run(config, args.out)
    print((Path(args.out) / "RESULTS.md").read_text())
    print(f"took {results['meta']['elapsed_s']:.0f} s")
