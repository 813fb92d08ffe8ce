"""`make bench`: writes benchmarks/results.md (and .json) with every figure beside its baseline."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks import etl, ml, orchestration
from benchmarks.harness import measure, row

HERE = Path(__file__).resolve().parent
ETL_DAYS, ETL_ROWS_PER_DAY = 10, 100_000
DAGSTER_DAYS, DAGSTER_ROWS_PER_DAY = 30, 1_000
SCORING_ROWS = 1_000_000


def main() -> None:
    from medallion.sources.generate import generate
    from medallion.sources.landing import list_day_files

    work = Path(tempfile.mkdtemp(prefix="medallion-bench-"))
    rows = []
    try:
        big = work / "big"
        generate(big / "landing", date(2025, 6, 1), ETL_DAYS, ETL_ROWS_PER_DAY, faults=0.01, seed=1)
        files = [
            f for i in range(ETL_DAYS) for f in list_day_files(big / "landing", "applications", date(2025, 6, 1 + i))
        ]
        total = ETL_DAYS * ETL_ROWS_PER_DAY
        rows.append(
            row(
                "etl bronze→silver→features (1% faults)",
                "medallion (polars)",
                total,
                measure(etl.medallion_path, files),
            )
        )
        rows.append(
            row(
                "etl bronze→silver→features (1% faults)",
                "baseline: pandas read_csv + to_numeric",
                total,
                measure(etl.pandas_baseline, files),
            )
        )

        small = work / "small"
        generate(small / "landing", date(2025, 1, 1), DAGSTER_DAYS, DAGSTER_ROWS_PER_DAY, seed=2)
        small_files = [f for d in sorted((small / "landing" / "applications").iterdir()) for f in d.glob("*.csv")]
        n = DAGSTER_DAYS * DAGSTER_ROWS_PER_DAY
        rows.append(
            row(
                f"etl_job, {DAGSTER_DAYS}-day single-run backfill",
                "dagster in process (sqlite event log)",
                n,
                measure(orchestration.dagster_backfill, small, date(2025, 1, 1), DAGSTER_DAYS),
            )
        )
        rows.append(
            row(
                f"etl_job, {DAGSTER_DAYS}-day single-run backfill",
                "baseline: the same functions without dagster",
                n,
                measure(orchestration.plain_functions, small_files),
            )
        )

        window = ml.labelled_window()
        rows.append(
            row(
                "training, 90-day window (15k labelled rows)",
                "3 candidates, time-based validation",
                window.height,
                measure(ml.train_all, window),
            )
        )
        rows.append(
            row(
                "training, 90-day window (15k labelled rows)",
                "baseline: logistic regression only",
                window.height,
                measure(ml.train_baseline, window),
            )
        )

        pipeline = ml.fitted_pipeline(window)
        features = ml.scoring_input(SCORING_ROWS)
        rows.append(
            row(
                "inference",
                "medallion score_features (vectorised)",
                SCORING_ROWS,
                measure(ml.score_medallion, pipeline, features),
            )
        )
        rows.append(
            row(
                "inference",
                "baseline: row-by-row predict_proba (2k rows)",
                2_000,
                measure(ml.score_row_by_row, pipeline, features),
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write(rows)


def write(rows: list[dict]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"# Benchmark results ({stamp}; {machine})",
        "",
        "Each figure stands beside its baseline, measured in the same run, each in a fresh process.",
        "",
        "| benchmark | variant | rows | seconds | rows/s | peak RSS MB | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        notes = ", ".join(
            f"{k}={v}"
            for k, v in r.items()
            if k not in ("benchmark", "variant", "rows", "seconds", "rows_per_second", "peak_rss_mb")
        )
        lines.append(
            f"| {r['benchmark']} | {r['variant']} | {r['rows']:,} | {r['seconds']} | "
            f"{r['rows_per_second'] or ''} | {r['peak_rss_mb']} | {notes} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    (HERE / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
