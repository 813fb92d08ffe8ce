"""The landing sensor: a file dropped into the landing zone is all it takes to run the ETL for its day."""

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from medallion.components import datasets_in
from medallion.names import ETL_JOB, TRIGGER_TAG
from medallion.resources.landing import LandingZone
from medallion.settings import current_settings


def landing_file_sets(landing: LandingZone, feeds: list[str], first: date) -> dict[str, list[Path]]:
    """Landed files per partition day, over every feed; days outside the partitions definition are ignored.

    Today is among them: its partition exists from tomorrow on, so today's files are picked up on tomorrow's tick."""
    today = datetime.now(UTC).date()
    days: dict[str, list[Path]] = {}
    for feed in feeds:
        for day in landing.days(feed):
            if first <= day < today:
                days.setdefault(day.isoformat(), []).extend(landing.files(feed, day))
    return days


def file_set_fingerprint(files: list[Path]) -> str:
    """Changes when a file is added, replaced or grows; the same files give the same run key."""
    digest = hashlib.sha256()
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def build_landing_sensor(feeds: list[str], first: date) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        job_name=ETL_JOB,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Requests {ETL_JOB} for a day once per new set of files landed for that day "
        "(run_key = day + file fingerprint).",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
        file_sets = landing_file_sets(landing, feeds, first)
        requests = [
            dg.RunRequest(
                run_key=f"{day}:{file_set_fingerprint(files)}",
                partition_key=day,
                tags={TRIGGER_TAG: "landing", "medallion/files": str(len(files))},
            )
            for day, files in sorted(file_sets.items())
        ]
        if not requests:
            return dg.SensorResult(skip_reason=f"no landed files under {landing.root} for feeds {feeds}")
        return dg.SensorResult(run_requests=requests)

    return landing_sensor


@dg.definitions
def landing(context: dg.ComponentLoadContext) -> dg.Definitions:
    feeds = [feed for dataset in datasets_in(context) for feed in dataset.feeds]
    return dg.Definitions(sensors=[build_landing_sensor(feeds, current_settings().start_date)])
