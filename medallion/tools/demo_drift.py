"""`make demo-drift`: the retraining loop end to end on a drifting synthetic feed, printed as a story.

Everything runs in process through the real jobs, schedule and sensors on a DagsterInstance under the
demo's own MEDALLION_HOME: land a feed whose distribution shifts on `drift_day`, backfill the ETL, train
before the drift, then week by week score the days with the champion, run monitoring_job as the Sunday
schedule asks, and let retrain_sensor decide whether training_job runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from medallion.logic.monitoring.measures import DEPLOYED
from medallion.logic.monitoring.retrain_gate import DEFAULT_MIN_DAYS_BETWEEN_RETRAINS
from medallion.settings import Settings, set_process_defaults

MARKER = ".drift-demo"
MODEL_NAME = "credit_default"  # the shipped dataset's `ml.model` (medallion/defs/credit_default/defs.yaml)
SATURDAY = 5
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
FAST_TRAINING = {
    "ops": {
        "ml__model": {"config": {"candidates": ["hist_gradient_boosting"]}},
        "ml__model_evaluation": {"config": {"n_resamples": 300}},
    }
}


@dataclass
class StoryWeek:
    day: date
    status: str
    retrain: bool
    reason: str
    top_feature: tuple[str, float] | None
    requested: bool = False
    new_version: str | None = None
    champion_after: str | None = None


@dataclass
class Story:
    weeks: list[StoryWeek] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    champions: list[str] = field(default_factory=list)
    alerts: int = 0


def prepare_home(home: Path) -> None:
    """Start from an empty folder; refuse to wipe one this demo did not create."""
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise SystemExit(f"{home} exists and is not a drift-demo folder ({MARKER} missing); choose another --home")
        shutil.rmtree(home)
    (home / "dagster").mkdir(parents=True)
    (home / MARKER).write_text("created by medallion.tools.demo_drift; deleted and rebuilt on every run\n")
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


class DriftDemo:
    def __init__(self, settings: Settings, run_config: dict, echo):
        import dagster as dg

        from medallion.definitions import build_definitions
        from medallion.resources.environments import resources_for

        self.dg, self.home, self.run_config, self.echo = dg, settings.home, run_config, echo
        self.settings = settings
        self.defs = build_definitions(settings)
        self.repository = self.defs.get_repository_def()
        self.resources = resources_for(settings)
        # The demo's own Dagster instance, beside its warehouse, not the one DAGSTER_HOME names.
        self.instance = dg.DagsterInstance.from_config(str(settings.home / "dagster"))
        self.sensor_cursor: str | None = None

    def table(self, sql: str, params: list | None = None):
        import duckdb

        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as connection:
            return connection.execute(sql, params or []).pl()

    def run(self, job: str, run_config: dict | None = None, instance=None, **kwargs):
        # MLflow prints registry chatter to stderr; keep it unless the run fails.
        chatter = io.StringIO()
        with contextlib.redirect_stderr(chatter):
            result = self.defs.resolve_job_def(job).execute_in_process(
                instance=instance or self.instance,
                raise_on_error=False,
                run_config={**(run_config or {}), **QUIET},
                **kwargs,
            )
        if not result.success:
            failure = result.get_run_failure_event()
            self.echo(f"  {job} failed: {failure.message if failure else 'see the run log'}")
        return result

    def run_range(self, job: str, first: date, last: date, instance=None):
        result = self.run(
            job,
            instance=instance,
            tags={"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)},
        )
        if not result.success:
            raise SystemExit(f"{job} {first}...{last} failed; see the runs under {self.home / 'dagster'}")

    def champion(self) -> str:
        return str(self.resources["mlflow"].for_model(MODEL_NAME).version_by_alias("champion").version)

    def train(self, day: date, tags: dict | None = None) -> tuple[str, bool]:
        """Run training_job for `day`: the new version and whether the run (its checks, the evaluation) succeeded."""
        result = self.run("training_job", run_config=self.run_config, partition_key=str(day), tags=tags or {})
        model = self.table(
            "select model_version, candidate, roc_auc, n_holdout from ml.model where partition_date = ? "
            "order by trained_at desc limit 1",
            [day],
        )
        if model.is_empty():
            raise SystemExit(f"training_job {day} produced no model; see the runs under {self.home / 'dagster'}")
        version, candidate, auc, rows = model.row(0)
        self.echo(f"  training_job {day}: v{version} registered ({candidate}, holdout AUC {auc:.4f} on {rows} rows)")
        if not result.success:
            self.alert(result)
            return version, False
        branch, reason = self.table(
            "select decision, reason from ml.model_evaluation where partition_date = ? and new_version = ?",
            [day, version],
        ).row(0)
        self.echo(f"  model_evaluation: {branch}: {reason}")
        return version, True

    def alert(self, result) -> None:
        sensor = self.repository.get_sensor_def("run_failure_alert_sensor")
        context = self.dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=self.instance,
            dagster_run=result.dagster_run,
            resources=self.resources,
        ).for_run_failure()
        with contextlib.redirect_stderr(io.StringIO()):  # the story prints the alert from its log instead
            sensor(context)
        from medallion.logic.monitoring.alerts import read_alerts

        last = read_alerts(self.resources["alerting"].log_path)[-1]
        checks = ", ".join(f"{c['asset']}:{c['check']}" for c in last["details"]["failed_checks"]) or "none"
        self.echo(
            f"  run_failure_alert_sensor → alerts/alerts.jsonl: {last['kind']} of {last['job']} {last['partition']}, "
            f"failed checks: {checks}"
        )

    def monitor(self, day: date) -> StoryWeek:
        schedule = self.repository.get_schedule_def("monitoring_weekly_schedule")
        sunday = datetime.combine(day + timedelta(days=1), clock(6), tzinfo=UTC)
        tick = schedule.evaluate_tick(
            self.dg.build_schedule_context(
                instance=self.instance, scheduled_execution_time=sunday, repository_def=self.repository
            )
        )
        request = tick.run_requests[0]
        if not self.run("monitoring_job", partition_key=request.partition_key, tags=dict(request.tags)).success:
            raise SystemExit(f"monitoring_job {request.partition_key} failed")
        decision = self.table("select * from ml.retrain_decision where partition_date = ?", [day]).row(0, named=True)
        measures = self.table(
            "select kind, subject, model_version, value, n from ml.monitoring where partition_date = ? "
            "and kind in ('feature_psi', 'performance') order by value desc nulls last",
            [day],
        )
        drift = measures.filter(measures["kind"] == "feature_psi")
        aucs = measures.filter((measures["kind"] == "performance") & (measures["subject"] == "roc_auc")).sort(
            "model_version"
        )
        top = drift.select("subject", "value").row(0) if drift.height else None
        psi = "n/a" if decision["prediction_psi"] is None else f"{decision['prediction_psi']:.3f}"
        auc = (
            " ".join(
                f"{v if v == DEPLOYED else 'v' + v}:{a:.3f}"
                for v, a in aucs.select("model_version", "value").iter_rows()
                if a is not None
            )
            or "n/a"
        )
        drifting = len([f for f in (decision["drifting_features"] or "").split(",") if f])
        top_text = f"{top[0]} {top[1]:.3f}" if top else "n/a"
        self.echo(
            f"{str(day):<11} {psi:>8}  {top_text:<26} {drifting:>5}  {auc:<17} {decision['status']}"
            + (f" [{decision['triggered_rules']}]" if decision["retrain"] else "")
        )
        if decision["retrain"]:
            self.echo(f"  reason: {decision['reason']}")
        return StoryWeek(day, decision["status"], decision["retrain"], decision["reason"], top)

    def sensor_tick(self):
        sensor = self.repository.get_sensor_def("retrain_sensor")
        context = self.dg.build_sensor_context(
            instance=self.instance, cursor=self.sensor_cursor, repository_def=self.repository, resources=self.resources
        )
        with contextlib.redirect_stderr(io.StringIO()):  # the story prints the outcome itself
            result = sensor(context)
        self.sensor_cursor = result.cursor or self.sensor_cursor
        return result


def run_story(
    home: Path,
    start: date = date(2025, 1, 1),
    days: int = 120,
    rows_per_day: int = 400,
    drift_day: int = 75,
    label_delay_days: int = 14,
    first_training_day: int = 59,
    run_config: dict | None = None,
    echo=print,
    retrain_min_days: int = DEFAULT_MIN_DAYS_BETWEEN_RETRAINS,
) -> Story:
    home = Path(home).resolve()
    prepare_home(home)
    set_process_defaults({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    settings = replace(Settings.from_env(), home=home, env="local", retrain_min_days=retrain_min_days)
    with _quiet_loggers():
        demo = DriftDemo(settings, FAST_TRAINING if run_config is None else run_config, echo)
        try:
            return _tell(demo, start, days, rows_per_day, drift_day, label_delay_days, first_training_day)
        finally:
            demo.instance.dispose()


@contextlib.contextmanager
def _quiet_loggers():
    """The story is the output: silence the libraries' own logging while it runs, then restore it."""
    loggers = [logging.getLogger(name) for name in ("dagster", "mlflow", "medallion.ml", "medallion.etl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _tell(
    demo: DriftDemo,
    start: date,
    days: int,
    rows_per_day: int,
    drift_day: int,
    label_delay_days: int,
    first_training_day: int,
) -> Story:
    from medallion.sources.generate import generate

    echo, home = demo.echo, demo.home
    began = time.perf_counter()
    last_day, drift_from = start + timedelta(days=days - 1), start + timedelta(days=drift_day)
    summary = generate(
        demo.settings.landing_dir,
        start,
        days,
        rows_per_day,
        drift_from=drift_from,
        seed=0,
        label_delay_days=label_delay_days,
    )
    echo(f"generate: {summary.describe()}; drift from {drift_from}")
    # Why ephemeral: the backfill logs ~1000 run events, slow in sqlite event storage, and the loop below
    # (schedule, sensors) needs only the ML assets' history, which lives on the persistent instance.
    with demo.dg.DagsterInstance.ephemeral() as etl_instance:
        demo.run_range("etl_job", start, last_day, instance=etl_instance)
    features, labels = demo.table(
        "select (select count(*) from gold.features), (select count(*) from gold.labels)"
    ).row(0)
    echo(f"etl_job {start}...{last_day}: {features} gold feature rows, {labels} labels")
    t0 = start + timedelta(days=first_training_day)
    echo(f"\ntraining on the labels known by {t0}, before the drift:")
    story = Story(versions=[demo.train(t0)[0]], champions=[demo.champion()])
    # Days whose labels were unknown at training time are out of sample: scoring them gives the first window
    # matured labels.
    predicted_through = t0
    demo.run_range("inference_job", t0 - timedelta(days=label_delay_days - 1), t0)
    echo(
        f"  champion v{story.champions[-1]}; "
        f"retrain_sensor allows one retrain per {demo.settings.retrain_min_days} days\n"
    )
    echo(f"{'week to':<11} {'pred PSI':>8}  {'top feature PSI':<26} {'>0.25':>5}  {'live AUC':<17} decision")
    for day in (t0 + timedelta(days=i) for i in range(1, (last_day - t0).days + 1)):
        if day.weekday() != SATURDAY:
            continue
        demo.run_range("inference_job", predicted_through + timedelta(days=1), day)
        predicted_through = day
        week = demo.monitor(day)
        result = demo.sensor_tick()
        if result.run_requests:
            request = result.run_requests[0]
            week.requested = True
            echo(f"  retrain_sensor: requests training_job for {request.partition_key}")
            week.new_version, succeeded = demo.train(date.fromisoformat(request.partition_key), dict(request.tags))
            (story.versions if succeeded else story.rejected).append(week.new_version)
            week.champion_after = demo.champion()
            changed = week.champion_after != story.champions[-1]
            echo(f"  champion {'changed to' if changed else 'stays'} v{week.champion_after}")
            story.champions += [week.champion_after] if changed else []
        elif week.retrain:
            echo(f"  retrain_sensor skipped: {result.skip_reason.skip_message}")
        story.weeks.append(week)
    story.alerts = (
        len((home / "alerts" / "alerts.jsonl").read_text().splitlines())
        if (home / "alerts" / "alerts.jsonl").exists()
        else 0
    )
    _epilogue(story, drift_from, echo, time.perf_counter() - began)
    return story


def _epilogue(story: Story, drift_from: date, echo, seconds: float) -> None:
    before = [w.top_feature[1] for w in story.weeks if w.day < drift_from and w.top_feature]
    after = [w.top_feature[1] for w in story.weeks if w.day >= drift_from and w.top_feature]
    flipped = next((w for w in story.weeks if w.retrain), None)
    retrains = [w for w in story.weeks if w.requested]
    echo("\nstory:")
    if before and after:
        echo(
            f"- top feature PSI: at most {max(before):.3f} before the drift ({drift_from}), "
            f"up to {max(after):.3f} after"
        )
    if flipped:
        echo(f"- the decision flipped to retrain for {flipped.day}: {flipped.reason}")
    echo(
        f"- retrain_sensor launched training_job {len(retrains)} time(s) "
        f"({', '.join(str(w.day) for w in retrains) or 'never'}); "
        f"{sum(1 for w in story.weeks if w.retrain and not w.requested)} retrain decision(s) skipped by the time limit"
    )
    rejected = (
        f" (also registered, stopped by a failed check: {', '.join('v' + v for v in story.rejected)})"
        if story.rejected
        else ""
    )
    echo(
        f"- versions registered and evaluated: {', '.join('v' + v for v in story.versions)}{rejected}; "
        f"champion history: {' -> '.join('v' + c for c in story.champions)} "
        f"({'changed' if len(story.champions) > 1 else 'never changed'}); "
        f"{story.alerts} alert(s) recorded"
    )
    echo(f"- {seconds:.0f} s in process")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medallion.tools.demo_drift", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=Path("data/drift-demo"), help="its own MEDALLION_HOME (wiped and rebuilt)"
    )
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--rows-per-day", type=int, default=400)
    parser.add_argument("--drift-day", type=int, default=75, help="first drifted day, counted from the start")
    parser.add_argument("--label-delay-days", type=int, default=14)
    parser.add_argument("--first-training-day", type=int, default=59)
    parser.add_argument(
        "--retrain-min-days", type=int, default=14, help="retrain_sensor's limit (MEDALLION_RETRAIN_MIN_DAYS) here"
    )
    args = parser.parse_args(argv)
    run_story(
        args.home,
        days=args.days,
        rows_per_day=args.rows_per_day,
        drift_day=args.drift_day,
        label_delay_days=args.label_delay_days,
        first_training_day=args.first_training_day,
        echo=lambda line: print(line, flush=True),
        retrain_min_days=args.retrain_min_days,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
