"""The `medallion` command line: one small function per subcommand, all registered in `build_parser`.

To add a subcommand, write `_add_<name>(subparsers)` that builds its parser and sets `handler`
to a function taking the parsed arguments and returning an exit code, then call it in `build_parser`.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from medallion.settings import DEFAULT_PROD_RUN_DAYS, ONE_RUN, RUN_DAYS_VAR, Settings, set_process_defaults
from medallion.sources.generate import generate
from medallion.sources.replay import replay
from medallion.tools.local_postgres import LocalPostgresError
from medallion.tools.local_redis import LocalRedisError
from medallion.tools.prod_stack import ProdStackError

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> date:
    if ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}")


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def days_per_run(text: str) -> int | None:
    return None if text.strip().lower() == ONE_RUN else positive_int(text)


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medallion", description="Credit-default medallion pipeline tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_replay(subparsers)
    _add_generate(subparsers)
    _add_land(subparsers)
    _add_init_contract(subparsers)
    _add_status(subparsers)
    _add_score(subparsers)
    _add_pg(subparsers)
    _add_prod(subparsers)
    _add_launch(subparsers)
    _add_rebuild_warehouse(subparsers)
    return parser


def _add_landing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=iso_date, required=True, help="first application day, YYYY-MM-DD")
    parser.add_argument("--days", type=positive_int, required=True, help="number of application days")
    parser.add_argument(
        "--label-delay-days", type=non_negative_int, default=30, help="days until outcomes land (default 30)"
    )
    parser.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME to write under (default: settings)")


def _add_replay(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="spread the reference dataset over daily landing folders")
    _add_landing_options(parser)
    parser.set_defaults(handler=run_replay)


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="land a synthetic daily feed, optionally drifted or faulty")
    _add_landing_options(parser)
    parser.add_argument("--rows-per-day", type=positive_int, required=True, help="applications per day")
    parser.add_argument("--drift-from", type=iso_date, default=None, help="first drifted day, YYYY-MM-DD")
    parser.add_argument("--faults", type=share, default=0.0, help="share of rows with an injected fault, 0..1")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.set_defaults(handler=run_generate)


def _add_land(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "land",
        help="land your own CSV or parquet file of applications and outcomes in a dataset's daily landing folders",
        description="Check a file against the dataset's contract and write its landing files: each row on a day "
        "(--date-column, or --start/--days in file order), outcomes --label-delay-days later. A header that does "
        "not match the contract refuses the file; bad values are reported and landed for the pipeline to quarantine.",
    )
    parser.add_argument("--input", type=Path, required=True, help="the applications: .csv (.csv.gz, ...) or .parquet")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", default=None, help="a defined dataset (its contract under medallion/defs)")
    which.add_argument("--contract", type=Path, default=None, help="a contract file instead of a defined dataset")
    parser.add_argument(
        "--outcomes",
        type=Path,
        default=None,
        help="a separate file of outcomes (id column + label); default: the label is a column of --input",
    )
    parser.add_argument(
        "--label-column", default=None, help="the file's column holding the contract's label (default: its name)"
    )
    parser.add_argument("--date-column", default=None, help="the column giving each row's day, YYYY-MM-DD")
    parser.add_argument("--start", type=iso_date, default=None, help="without --date-column: the first day")
    parser.add_argument("--days", type=positive_int, default=None, help="without --date-column: days to spread over")
    parser.add_argument(
        "--id-column",
        default=None,
        help="the file's id column, stored as the contract's key (default: the key's own column if the file has "
        "it, else ids are generated in file order)",
    )
    parser.add_argument("--first-id", type=non_negative_int, default=1, help="the first generated id (default 1)")
    parser.add_argument(
        "--label-delay-days",
        type=non_negative_int,
        default=None,
        help="days from an application to its outcome (default: the contract's label_delay_days, else 30)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="refuse the file when any value breaks the contract (default: land it)"
    )
    parser.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME to write under (default: settings)")
    parser.set_defaults(handler=run_land)


def run_land(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from medallion.sources.own_data import land_file, next_command, resolve_dataset

    if args.date_column is None and (args.start is None or args.days is None):
        raise ValueError("give each row's day: --date-column NAME, or --start YYYY-MM-DD and --days N")
    if args.date_column is not None and (args.start is not None or args.days is not None):
        raise ValueError("--date-column and --start/--days are alternatives: give one of them")
    settings = _settings(args.home)
    entry = resolve_dataset(args.dataset, args.contract)
    summary = land_file(
        settings.landing_dir,
        entry,
        args.input,
        outcomes_path=args.outcomes,
        date_column=args.date_column,
        start=args.start,
        days=args.days,
        id_column=args.id_column,
        first_id=args.first_id,
        label_column=args.label_column,
        label_delay_days=args.label_delay_days,
        strict=args.strict,
    )
    print(f"land: {summary.describe()}")
    last_partition = settings.end_date or datetime.now(UTC).date() - timedelta(days=1)
    home = settings.home if args.home is not None else None
    for line in next_command(summary, home, settings.start_date, last_partition):
        print(line)
    return 0


def _add_init_contract(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init-contract",
        help="draft a dataset's contract.yaml and defs.yaml from your file, to review before `medallion land`",
    )
    parser.add_argument("--input", type=Path, required=True, help="the applications: .csv (.csv.gz, ...) or .parquet")
    parser.add_argument("--dataset", required=True, help="the new dataset's name (lower-case, digits, '_')")
    parser.add_argument("--label-column", required=True, help="the column holding the class to predict")
    parser.add_argument(
        "--positive-label",
        default=None,
        help="the label value that is the positive class (default: 1 of a 0/1 label, else the rarer of two classes)",
    )
    parser.add_argument("--id-column", default=None, help="the id column, the key (default: a generated ID)")
    parser.add_argument(
        "--date-column", default=None, help="the column giving each row's day: the landing day, left out of the columns"
    )
    parser.add_argument(
        "--label-delay-days",
        type=non_negative_int,
        default=30,
        help="days from an application to its outcome, written to the contract (default 30)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="the folder to write into (default: medallion/defs/<dataset>)"
    )
    parser.set_defaults(handler=run_init_contract)


def run_init_contract(args: argparse.Namespace) -> int:
    from medallion.sources.own_data import draft_contract

    draft = draft_contract(
        args.input,
        args.dataset,
        args.label_column,
        id_column=args.id_column,
        date_column=args.date_column,
        positive_label=args.positive_label,
        label_delay_days=args.label_delay_days,
        out=args.out,
    )
    print(f"init-contract: {draft.describe()}")
    days = f"--date-column {args.date_column}" if args.date_column else "--start YYYY-MM-DD --days N"
    ids = f" --id-column {args.id_column}" if args.id_column else ""
    print(
        f"next: review {draft.contract_file}, run `dg check defs`, then\n"
        f"  medallion land --input {args.input} --contract {draft.contract_file}{ids} {days}"
        + (f"\n  (or --dataset {args.dataset} once the folder is under medallion/defs)" if args.out else "")
    )
    return 0


def _add_status(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="show the landing folders, the warehouse tables and how to open the UIs"
    )
    parser.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME to report on (default: settings)")
    parser.set_defaults(handler=run_status)


def landing_dir(args: argparse.Namespace) -> Path:
    return _settings(args.home).landing_dir


def run_replay(args: argparse.Namespace) -> int:
    summary = replay(landing_dir(args), args.start, args.days, label_delay_days=args.label_delay_days)
    print(f"replay: {summary.describe()}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    summary = generate(
        landing_dir(args),
        args.start,
        args.days,
        args.rows_per_day,
        drift_from=args.drift_from,
        faults=args.faults,
        seed=args.seed,
        label_delay_days=args.label_delay_days,
    )
    print(f"generate: {summary.describe()}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from medallion.tools.status import render_status

    print(render_status(_settings(args.home)))
    return 0


def _settings(home: Path | None) -> Settings:
    """The environment's settings, with --home taking the place of MEDALLION_HOME when given."""
    settings = Settings.from_env()
    return settings if home is None else replace(settings, home=home.resolve())


def _add_score(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("score", help="score a CSV or parquet file of applications with a registered model")
    parser.add_argument(
        "--model",
        default=None,
        help="models:/NAME@ALIAS or models:/NAME/VERSION, e.g. models:/credit_default@champion "
        "(default: the champion of the dataset's registered model)",
    )
    parser.add_argument(
        "--input", type=Path, required=True, help="applications as .csv or .parquet, with the contract's columns"
    )
    parser.add_argument("--output", type=Path, required=True, help="where to write the predictions (.parquet)")
    parser.add_argument(
        "--date", type=iso_date, default=None, help="partition_date to stamp on the rows (default: today, UTC)"
    )
    parser.add_argument(
        "--home", type=Path, default=None, help="MEDALLION_HOME whose MLflow store to use (default: settings)"
    )
    parser.add_argument(
        "--dataset",
        default=None,
        help="the dataset whose contract the file follows; required when several datasets declare ml",
    )
    parser.set_defaults(handler=run_score)


def run_score(args: argparse.Namespace) -> int:
    from medallion.components import project_datasets

    return score_dataset(
        _settings(args.home), project_datasets(), args.dataset, args.model, args.input, args.output, args.date
    )


def score_dataset(
    settings: Settings,
    datasets: dict,
    requested: str | None,
    model: str | None,
    input_path: Path,
    output: Path,
    day: date | None = None,
) -> int:
    """`medallion score` on `datasets` (name → Dataset component): the chosen dataset's contract and, unless
    `model` names one, its registered model's champion."""
    from medallion.resources.environments import resources_for
    from medallion.resources.mlflow_tracking import MlflowStoreError, ModelNotFoundError
    from medallion.tools.score import champion_uri, choose_dataset, score_file

    name = choose_dataset({name: dataset.ml_settings is not None for name, dataset in datasets.items()}, requested)
    dataset = datasets[name]
    contract = dataset.loaded_contract
    mlflow = resources_for(settings)["mlflow"].process_config_and_initialize()
    try:
        model = model or champion_uri(name, dataset.ml_settings)
        report = score_file(model, input_path, output, contract, mlflow, day)
    except (ModelNotFoundError, MlflowStoreError, ValueError) as error:
        print(f"medallion score: error: dataset {name}: {error}", file=sys.stderr)
        return 1
    print(f"scored {report.scored} row(s) with {model} (version {report.model_version}) → {report.output}")
    if report.rejected:
        print(
            f"{report.rejected} row(s) failed the {contract.name} contract and were not scored "
            f"→ {report.rejected_output}"
        )
    return 0


def _add_pg(subparsers: argparse._SubParsersAction) -> None:
    for name, help_text, handler in (
        ("pg-up", "start a local PostgreSQL on 127.0.0.1 (created on first use) and print its URL", run_pg_up),
        ("pg-down", "stop the local PostgreSQL started by pg-up", run_pg_down),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("--dir", type=Path, default=None, help="its folder (default: MEDALLION_HOME/postgres)")
        parser.add_argument("--port", type=positive_int, default=5433, help="its port on 127.0.0.1 (default 5433)")
        parser.set_defaults(handler=handler)


def _local_postgres(args: argparse.Namespace):
    from medallion.tools.local_postgres import LocalPostgres

    return LocalPostgres((args.dir or Settings.from_env().home / "postgres").resolve(), args.port)


def run_pg_up(args: argparse.Namespace) -> int:
    url = _local_postgres(args).start()
    print(f"PostgreSQL is up on 127.0.0.1:{args.port}. To serve to it:")
    print(f"export MEDALLION_PG_URL='{url}' MEDALLION_SERVING_TARGETS=duckdb,postgres")
    return 0


def run_pg_down(args: argparse.Namespace) -> int:
    server = _local_postgres(args)
    server.stop()
    print(f"PostgreSQL under {server.root} is stopped")
    return 0


def _add_prod(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser(
        "prod-up",
        help="start the production profile on 127.0.0.1: PostgreSQL, Redis, MLflow, code server, webserver, Celery "
        "workers, daemon",
    )
    up.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME (default: settings); it lives in HOME/prod")
    for option, default, what in (
        ("--pg-port", 5434, "PostgreSQL"),
        ("--mlflow-port", 5001, "the MLflow server"),
        ("--code-port", 4266, "the gRPC code server"),
        ("--port", 3001, "the Dagster webserver"),
        ("--redis-port", 6380, "Redis, the Celery broker"),
    ):
        up.add_argument(option, type=positive_int, default=default, help=f"port of {what} (default {default})")
    up.add_argument("--workers", type=positive_int, default=2, help="Celery worker processes (default 2)")
    up.add_argument(
        "--run-days",
        type=days_per_run,
        default=DEFAULT_PROD_RUN_DAYS,
        help=f"days per run of a backfill (MEDALLION_RUN_DAYS; default {DEFAULT_PROD_RUN_DAYS}; {ONE_RUN}: one run)",
    )
    up.set_defaults(handler=run_prod_up)
    down = subparsers.add_parser("prod-down", help="stop every process prod-up started")
    down.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME (default: settings)")
    down.set_defaults(handler=run_prod_down)
    run = subparsers.add_parser(
        "prod-run",
        help="submit a job's assets for a day or a range as one backfill through the prod webserver, split into runs "
        "of MEDALLION_RUN_DAYS days, and wait for every run of it",
    )
    run.add_argument("job", help="etl_job, training_job, inference_job, monitoring_job, ...")
    run.add_argument("--start", type=iso_date, required=True, help="first partition day, YYYY-MM-DD")
    run.add_argument("--end", type=iso_date, default=None, help="last partition day (default: --start)")
    run.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME (default: settings)")
    run.set_defaults(handler=run_prod_run)


def run_prod_up(args: argparse.Namespace) -> int:
    from medallion.tools.prod_stack import Ports, ProdStack

    ports = Ports(args.pg_port, args.mlflow_port, args.code_port, args.port, args.redis_port)
    stack = ProdStack(_settings(args.home).home, ports, workers=args.workers, days_per_run=args.run_days)
    stack.up()
    print(f"Dagster UI  {stack.webserver_url}   (webserver, daemon and code server on 127.0.0.1:{ports.code_server})")
    print(f"MLflow UI   {stack.mlflow_url}")
    print(f"PostgreSQL  127.0.0.1:{ports.postgres}   databases: dagster, lake, mlflow, serving")
    workers = ", ".join(stack.worker_name(service) for service in stack.services if service.startswith("worker"))
    print(f"Redis       127.0.0.1:{ports.redis}   Celery broker (password in the env file); workers: {workers}")
    per_run = "one run" if args.run_days is None else f"runs of {args.run_days} days"
    print(f"Backfills   of the ETL, predictions and serving: {per_run} ({RUN_DAYS_VAR})")
    print(f"Logs        {stack.root}/*.log")
    print(f"To run tools against it: source {stack.env_file}   (holds the passwords; mode 0600)")
    return 0


def run_prod_down(args: argparse.Namespace) -> int:
    from medallion.tools.prod_stack import ProdStack

    stack = ProdStack.at(_settings(args.home).home)
    stack.down()
    print(f"production profile under {stack.root} is stopped")
    return 0


def run_prod_run(args: argparse.Namespace) -> int:
    from medallion.tools.prod_stack import ProdStack

    stack = ProdStack.at(_settings(args.home).home)
    end = args.end or args.start
    days = args.start.isoformat() if end == args.start else f"{args.start}...{end}"
    outcome = stack.run(args.job, args.start.isoformat(), end.isoformat())
    link = f"{stack.webserver_url}/runs/b/{outcome.backfill_id}"
    print(f"{args.job} {days}: backfill {outcome.status}, {len(outcome.runs)} run(s) ({link})")
    for run in outcome.runs:
        print(f"  {run.days}  {run.status:<8} {run.worker or 'no worker'}  {stack.webserver_url}/runs/{run.run_id}")
        if run.failure:
            print(f"    {run.failure}")
    return 0 if outcome.succeeded else 1


def _add_launch(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="run a job for a day or a range here, recorded as a run of the code location (listed on its Jobs pages)",
    )
    parser.add_argument("job", help="etl_job, training_job, inference_job, monitoring_job, ...")
    parser.add_argument("--start", type=iso_date, required=True, help="first partition day, YYYY-MM-DD")
    parser.add_argument("--end", type=iso_date, default=None, help="last partition day (default: --start)")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run tag (repeatable), e.g. medallion/trigger=demo",
    )
    parser.set_defaults(handler=run_launch)


def run_launch(args: argparse.Namespace) -> int:
    from medallion.tools.launch import launch

    tags = dict(_tag(text) for text in args.tag)
    result = launch(args.job, args.start, args.end or args.start, tags)
    print(f"{args.job} {result.days}: {result.status} (run {result.run_id})")
    return 0 if result.status == "SUCCESS" else 1


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--tag {text!r}: expected KEY=VALUE")
    return key, value


def _add_rebuild_warehouse(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rebuild-warehouse",
        help="move a damaged warehouse.duckdb aside (never deleted) and rebuild bronze, silver and gold from the "
        "landing files (one etl_job run over the landed days)",
    )
    parser.add_argument("--home", type=Path, default=None, help="MEDALLION_HOME to repair (default: settings)")
    parser.add_argument(
        "--move-only", action="store_true", help="only move the file aside and print the command that rebuilds it"
    )
    parser.add_argument("--force", action="store_true", help="also when the warehouse opens fine")
    parser.set_defaults(handler=run_rebuild_warehouse)


def run_rebuild_warehouse(args: argparse.Namespace) -> int:
    from datetime import datetime

    from medallion.tools.rebuild import ml_note, plan_rebuild, refuse_unless_damaged, run_rebuild

    settings = _settings(args.home)
    refuse_unless_damaged(settings, args.force)
    plan = plan_rebuild(settings, datetime.now())
    for path in plan.moved:
        print(f"moved aside: {path}")
    if not plan.moved:
        print(f"no warehouse at {settings.warehouse_path}: nothing to move aside")
    if not plan.command:
        print(f"nothing landed under {settings.landing_dir} within the partitions' days: nothing to rebuild")
        return 0
    rebuild = plan.shown_command(settings.home)
    if args.move_only:
        print(f"rebuild bronze, silver and gold from the landing files with:\n  {rebuild}")
        print(ml_note(settings))
        return 0
    print(f"rebuilding bronze, silver and gold from the landing files, {plan.first}...{plan.last}:\n  {rebuild}")
    sys.stdout.flush()
    returncode = run_rebuild(settings, plan)
    if returncode != 0:
        print(
            f"medallion rebuild-warehouse: error: the rebuild run failed; fix its cause, then:\n  {rebuild}",
            file=sys.stderr,
        )
        return returncode
    print(f"rebuilt {settings.warehouse_path}: bronze, silver and gold")
    print(ml_note(settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_process_defaults()
    try:
        return args.handler(args)
    except (ValueError, FileExistsError, LocalPostgresError, LocalRedisError, ProdStackError) as error:
        print(f"medallion {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
