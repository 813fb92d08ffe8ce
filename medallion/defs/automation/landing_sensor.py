"""The landing sensor: a file dropped into the landing zone is all it takes to run its dataset's ETL for its day.

One sensor for every dataset: a day's files of one dataset's feeds request that dataset's ETL job (etl_job,
etl_job__<dataset>) only."""

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from medallion.components import Dataset, datasets_in
from medallion.names import LANDING_SENSOR, TRIGGER_TAG
from medallion.resources.landing import LandingZone
from medallion.settings import current_settings


def landing_file_sets(
    landing: LandingZone, feeds: list[str], first: date, last: date | None = None
) -> dict[str, list[Path]]:
    """Landed files per partition day, over every feed; days outside the partitions definition (before `first`,
    after `last` = MEDALLION_END_DATE when set) are ignored.

    Today is among them: its partition exists from tomorrow on, so today's files are picked up on tomorrow's tick."""
    today = datetime.now(UTC).date()
    days: dict[str, list[Path]] = {}
    for feed in feeds:
        for day in landing.days(feed):
            if first <= day < today and (last is None or day <= last):
                days.setdefault(day.isoformat(), []).extend(landing.files(feed, day))
    return days


def files_before(landing: LandingZone, feeds: list[str], first: date) -> list[Path]:
    """Landed files of days before the first partition day: no run can ever read them."""
    return [path for feed in feeds for day in landing.days(feed) if day < first for path in landing.files(feed, day)]


def files_before_warning(files: list[Path], root: Path, first: date, shown: int = 5) -> str:
    names = [str(path.relative_to(root)) for path in files[:shown]]
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return (
        f"{len(files)} landed file(s) are for days before the first partition day {first} and are never read: "
        f"{', '.join(names)}{more} (under {root}); set MEDALLION_START_DATE to their first day to include them"
    )


def file_set_fingerprint(files: list[Path]) -> str:
    """Changes when a file is added, replaced or grows; the same files give the same run key."""
    digest = hashlib.sha256()
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def build_landing_sensor(datasets: list[Dataset], first: date, last: date | None = None) -> dg.SensorDefinition:
    jobs = [dataset.etl_job_definition() for dataset in datasets]  # the objects defs/automation/jobs.py holds
    feeds_by_job = {dataset.etl_job: dataset.feeds for dataset in datasets}
    feeds = [feed for dataset_feeds in feeds_by_job.values() for feed in dataset_feeds]
    named = ", ".join(f"{job} ({', '.join(job_feeds)})" for job, job_feeds in feeds_by_job.items())

    @dg.sensor(
        name=LANDING_SENSOR,
        jobs=jobs,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Requests a dataset's ETL job for a day once per new set of files landed for that dataset and day "
        f"(run_key = day + file fingerprint): {named}.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
        # The cursor is the fingerprint of the early files last warned about: a user is told once per set, not
        # on every tick.
        early = files_before(landing, feeds, first)
        early_fingerprint = file_set_fingerprint(early) if early else ""
        if early and early_fingerprint != context.cursor:
            context.log.warning(files_before_warning(early, Path(landing.root), first))
        # Each dataset's days apart: its files alone make its run key, and a day of it requests its job only.
        file_sets = sorted(
            (day, job, files)
            for job, job_feeds in feeds_by_job.items()
            for day, files in landing_file_sets(landing, job_feeds, first, last).items()
        )
        requests = [
            dg.RunRequest(
                run_key=f"{day}:{file_set_fingerprint(files)}",
                job_name=job,
                partition_key=day,
                tags={TRIGGER_TAG: "landing", "medallion/files": str(len(files))},
            )
            for day, job, files in file_sets
        ]
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no landed files under {landing.root} for feeds {feeds} from {first} to yesterday",
                cursor=early_fingerprint,
            )
        return dg.SensorResult(run_requests=requests, cursor=early_fingerprint)

    return landing_sensor


@dg.definitions
def landing(context: dg.ComponentLoadContext) -> dg.Definitions:
    settings = current_settings()
    return dg.Definitions(sensors=[build_landing_sensor(datasets_in(context), settings.start_date, settings.end_date)])
