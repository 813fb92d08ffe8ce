"""RESULTS.md and results.json from one run's measurements: the targets first, then each figure beside its baselines."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import inputs
from benchmarks.targets import ETL_VARIANTS, agreement, ok, targets

VARIANT_LABELS = {
    "medallion": "medallion code path (read_landing_day → validate_feed → engineer_features → DuckDB)",
    "duckdb floor": "DuckDB floor (one SQL pass generated from the contract)",
    "pandas": "pandas, the plain way (+ DuckDB write)",
    "dg launch": "`dg launch --job etl_job --partition` (subprocess)",
}


def write_report(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    results["targets"] = targets(results["rows"])
    results["agreement"] = agreement(results["rows"])
    (out_dir / "RESULTS.md").write_text(markdown(results))
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def _s(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("**met**" if met else "**not met**")


def _notes(r: dict, skip: tuple[str, ...]) -> str:
    shown = {k: v for k, v in r.items() if k not in skip and v is not None and not isinstance(v, (dict, list))}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


BASE_KEYS = ("section", "benchmark", "variant", "rows", "seconds", "rows_per_second", "peak_rss_mb", "size", "lines")


def _which_bench(meta: dict) -> str:
    prod = meta.get("prod_backfill_s")
    if prod is None:
        return " (`make bench`)"
    minutes, seconds = divmod(int(meta["elapsed_s"] - prod), 60)
    return (
        f" (`make bench-prod`: `make bench` plus the year on the production profile, {prod:.0f} s of it; "
        f"`make bench` alone {minutes} min {seconds} s)"
    )


def markdown(results: dict) -> str:
    meta, rows = results["meta"], results["rows"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    uncommitted = (
        f" plus uncommitted changes under medallion/ ({'; '.join(meta['uncommitted'])})" if meta["uncommitted"] else ""
    )
    minutes, seconds = divmod(int(meta["elapsed_s"]), 60)
    lines = [
        "# Benchmark results",
        "",
        f"- **Date**: {meta['date']}; the whole run took {minutes} min {seconds} s"
        + (" (smoke sizes: `python -m benchmarks --smoke`)" if meta["config"].get("smoke") else _which_bench(meta))
        + ".",
        f"- **Machine**: {meta['machine']}; {meta['os']}.",
        f"- **Versions**: {versions}.",
        f"- **Code measured**: `{meta['commit']}`{uncommitted}.{_code_changed(meta)}",
        f"- **Load average** (1, 5, 15 min) at start {meta['load_average']}, at end {meta['load_average_at_end']} "
        "(2 cores: anything else running shows here and slows every figure).",
        "",
        "Every figure stands beside its baselines, measured in the same run on the same generated input, each variant "
        "in its own spawned process. Seconds are wall time of the variant's own work: its imports happen before the "
        "clock starts, except in the start-up figures, which measure them. CPU s is user + system time of all its "
        "threads (on 2 cores, wall < CPU means it ran in parallel; CPU barely moves when the machine is busy). Peak "
        "RSS is the process's `ru_maxrss` (for `dg launch`, the launched `dg` process's, from `RUSAGE_CHILDREN`). The "
        "targets are judged on wall seconds.",
        "",
        "## Targets (issue 8)",
        "",
        "Where a target is not met, the last column says what the same run measured about why (the sections below "
        "hold the full figures).",
        "",
        "| target | where | measured | verdict | where the time or memory goes |",
        "|---|---|---|---|---|",
    ]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['where']} | {t['measured']} | {_verdict(t['met'])} | {t.get('why', '')} |")

    config = meta["config"]
    lines += [
        "",
        "## ETL: landing files → bronze, silver, quarantine and gold in a DuckDB file",
        "",
        "Input, per size: one day of the applications feed from `medallion.sources.generate.generate` (with "
        f"`faults={inputs.GENERATE_FAULTS}`: non-numeric, out-of-range, empty and repeated rows), rewritten as real "
        'deliveries look: a UTF-8 BOM and CRLF line endings; ~0.1 % of values quoted (`"20000"`); ~0.02 % quoted with '
        'a comma inside (`"20,000"`, `"500,5"`: not a number, quarantined); ~0.01 % of lines with an extra field; '
        "~0.1 % of lines delivered again later the same day; the day split into 4 files whose delivery order (mtime) "
        "differs from their name order. Seeded: the same size gives the same bytes. Generated once per size, outside "
        "the measurements.",
        "",
        "| rows | lines landed | MB | quoted values | quoted with comma | lines with an extra field | repeated lines |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, m in results["inputs"].items():
        lines.append(
            f"| {int(size):,} | {m['lines']:,} | {m['bytes'] / 1e6:,.0f} | {m['quoted']:,} | {m['quoted_comma']:,} | "
            f"{m['malformed']:,} | {m['duplicates']:,} |"
        )
    launch_sizes = ", ".join(f"{s:,}" for s in config["dg_launch_sizes"])
    skipped = ", ".join(f"{s:,}" for s in config["sizes"] if s not in config["dg_launch_sizes"])
    if not launch_sizes:
        launch_note = "`dg launch` is not run beside the ETL variants in this run (only in the start-up section)."
    else:
        launch_note = (
            f"`dg launch` runs at {launch_sizes} rows only"
            + (
                f" ({skipped} rows runs the code path, the floor and pandas: a 5M-row launch would add minutes to the "
                "run for a figure the code path bounds from below)"
                if skipped
                else ""
            )
            + "; it runs the whole `etl_job` (both feeds, gold labels, every quality check) with an empty outcomes "
            "feed."
        )
    lines += [
        "",
        f"Variants: {'; '.join(f'**{k}** = {v}' for k, v in VARIANT_LABELS.items())}. {launch_note}",
        "",
        "| rows | variant | seconds | CPU s | rows/s | µs/row | peak RSS MiB | valid | rejected | breakdown (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["section"] == "etl"):
        if not ok(r):
            lines.append(f"| {r['size']:,} | {r['variant']} | failed | | | | | | | {_error(r)} |")
            continue
        lines.append(
            f"| {r['size']:,} | {r['variant']} | {_s(r['seconds'], 2)} | {_s(r.get('cpu_s'), 1)} | "
            f"{r['rows_per_second']:,} | "
            f"{r['seconds'] / r['rows'] * 1e6:.1f} | {r['peak_rss_mb']:,} | {r.get('valid', ''):,} | "
            f"{r.get('rejected', ''):,} | {_notes(r, (*BASE_KEYS, 'valid', 'rejected', 'returncode', 'cpu_s'))} |"
        )
    lines += [
        "",
        "### Do the variants agree?",
        "",
        "| rows | lines landed | medallion valid / rejected | floor | pandas | dg launch | medallion = floor | "
        "first reasons identical | same gold as medallion: floor, pandas |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in results["agreement"]:
        cells = []
        for v in ETL_VARIANTS:
            c = a["counts"].get(v)
            cells.append(f"{c[0]:,} / {c[1]:,}" if c else "–")
        lines.append(
            f"| {a['size']:,} | {a['lines']:,} | {' | '.join(cells)} | {_yes(a['medallion_equals_floor'])} | "
            f"{_yes(a['same_first_reasons'])}"
            + (f" ({a['reason_differences']})" if a["reason_differences"] else "")
            + f" | {_yes(a['same_gold'].get('duckdb floor'))}, {_yes(a['same_gold'].get('pandas'))} |"
        )
    lines += [
        "",
        "- **medallion vs floor**: valid + rejected = lines landed for both. Both reject the same rows for the same "
        "first reason (the floor keeps only the first; medallion's `reasons` lists all). Repeated keys: medallion "
        "tells `duplicate_row` (same line again) from `superseded` (other values; here, a repeated row of which one "
        "copy had a value quoted), the floor counts both as `duplicate`; the first-reason comparison merges them.",
        "- **pandas**: the same valid rows; its rejected count misses the lines with an extra field, which "
        '`on_bad_lines="skip"` drops silently (lines landed − valid − rejected = those lines).',
        "- **dg launch**: the same counts as the code path, read back from the warehouse it wrote.",
        "- **gold**: the floor (in SQL) and pandas compute `engineer_features`' 37 columns too; *same gold* compares "
        "every numeric gold column's sum with medallion's (pandas keeps the first copy of a repeated key in file-name "
        "order, so a superseded row may differ there).",
        "",
        "What the floor does **not** do that medallion does (so the floor is a lower bound for the work, not the same "
        "work):",
        "",
        "- no bronze table: the records as landed (`_raw_line`) with `_line_number`, `_row_hash`, `_delivered_at`, "
        "`_ingested_at`, `_parse_error`, `_header`, `_header_issue` are never stored (medallion's bronze write is "
        "`bronze_write_s` above);",
        "- rejected rows keep only their first reason, not the list of every reason, and (except malformed lines, "
        "which `read_csv`'s reject table reports with line and text) neither line number nor raw line;",
        "- repeated keys are all `duplicate` (no row hash to tell `duplicate_row` from `superseded`); within one file, "
        "which copy wins is not defined (medallion: the later line);",
        "- columns are matched by position (DuckDB's reject handling excludes `union_by_name`), not by name; a "
        "missing column is not reported per file; an undecodable file or duplicated header fails the whole read "
        "without medallion's file/line/rule message; `trim` strips spaces only.",
    ]

    backfill = [r for r in rows if r["section"] == "backfill"]
    if backfill:
        lines += [
            "",
            f"## Ranged backfills: etl_job as one run, {backfill[0]['rows'] // backfill[0]['days']:,} rows a day",
            "",
            '`build_definitions(Settings(home=...)).resolve_job_def("etl_job").execute_in_process(...)` with the '
            "partition-range tags (what `dg launch --partition-range` runs), on a sqlite instance with "
            "deploy/dagster.yaml, input from `generate` (outcomes 30 days later, so silver outcomes and gold labels "
            "have rows from February). DAGSTER_EVENT_BATCH_SIZE is set explicitly in each variant's process, "
            "whatever the project's own process defaults say. *Assets' compute* sums the `seconds` the assets "
            "report in their materializations; *asset steps* is those steps' start-to-end time in the event log "
            "(adds the IO manager's DuckDB reads and writes); *check steps* the quality checks' steps; "
            "*outside steps* is wall minus all steps: run start and end, step orchestration and event-log writes "
            "between steps. *Event log* is the time spent in the instance's event-log writes, wherever they happen "
            "(in steps or between them), timed around the storage's `store_event` and `store_event_batch`. The "
            "*prod* variants run the same run with MEDALLION_ENV=prod: the warehouse a DuckLake on a PostgreSQL "
            "catalog (files under a local data path), the instance deploy/dagster.prod.yaml on a PostgreSQL started "
            "for the bench (127.0.0.1, `synchronous_commit=off` as `make prod-up` sets it).",
            "",
            "| variant | days | seconds | CPU s | rows/s | peak RSS MiB | assets' compute s | asset steps s | "
            "check steps s | outside steps s | share of wall outside assets' compute | events (per day) | "
            "event log s (share) | success |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in backfill:
            if not ok(r):
                lines.append(f"| {r['variant']} | {r.get('days', '')} | failed: {_error(r)} | | | | | | | | | | | |")
                continue
            if "runs" in r:  # through the webserver and the workers: only the wall time and the runs are measured
                lines.append(
                    f"| {r['variant']} | {r['days']} | {_s(r['seconds'])} | – | {r['rows_per_second']:,} | – | "
                    f"{r['runs']} runs on {r['workers_used']} worker(s) | | | | | | | {r['success']} |"
                )
                continue
            lines.append(
                f"| {r['variant']} | {r['days']} | {_s(r['seconds'])} | {_s(r.get('cpu_s'))} | "
                f"{r['rows_per_second']:,} | {r['peak_rss_mb']:,} | "
                f"{_s(r['assets_compute_s'])} | {_s(r['asset_steps_s'])} | {_s(r['check_steps_s'])} | "
                f"{_s(r['outside_steps_s'])} | {r['outside_compute_share']:.0%} | {r['events']:,} "
                f"({r['events'] / r['days']:.0f}) | "
                f"{_s(r.get('event_log_s'))} ({r.get('event_log_share', 0):.0%}) | {r['success']} |"
            )

    startup = [r for r in rows if r["section"] == "startup"]
    if startup:
        lines += ["", "## Start-up and a small launch", "", "| what | how | seconds | CPU s | peak RSS MiB | notes |"]
        lines.append("|---|---|---|---|---|---|")
        for r in startup:
            lines.append(
                f"| {r['benchmark']} | {r['variant']} | {_s(r['seconds'], 2) if ok(r) else 'failed'} | "
                f"{_s(r.get('cpu_s'), 2)} | {r['peak_rss_mb'] if r['peak_rss_mb'] is not None else ''} | "
                f"{_notes(r, (*BASE_KEYS, 'returncode', 'cpu_s')) if ok(r) else _error(r)} |"
            )
        lines.append("")
        lines.append(
            'The import is `python -c "import medallion.definitions"` in a fresh interpreter (interpreter start-up '
            "included; CPU is the mean over the interpreters); the code-location load adds `defs()` and building the "
            "repository, as `dg` and `dagster dev` do before anything else; `import dagster` is the floor any code "
            "location pays. For the launch, `run_s` is its run's span in the event log (`steps_s` the steps' own "
            "time): the rest starts the process, imports and loads the definitions. Peak RSS is the interpreters' "
            "(the launched `dg`'s for the launch)."
        )

    ml_section = [r for r in rows if r["section"] == "ml"]
    if ml_section:
        lines += [
            "",
            "## Training and inference",
            "",
            "| benchmark | variant | rows | seconds | CPU s | rows/s | peak RSS MiB | notes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in ml_section:
            lines.append(
                f"| {r['benchmark']} | {r['variant']} | {r['rows']:,} | {_s(r['seconds'], 2) if ok(r) else 'failed'} "
                f"| {_s(r.get('cpu_s'), 2)} | {r['rows_per_second'] or 0:,} | {r['peak_rss_mb'] or 0:,} | "
                f"{_notes(r, (*BASE_KEYS, 'cpu_s')) if ok(r) else _error(r)} |"
            )
    serving_section = [r for r in rows if r["section"] == "serving"]
    if serving_section:
        lines += [
            "",
            f"## Serving: {serving_section[0]['benchmark']} (`serving.predictions`)",
            "",
            "The project's writers replace the run's days in one transaction (PostgreSQL: advisory lock, delete, "
            "`COPY`, into a table with its primary key and day index; DuckDB: delete + insert; Delta: one `overwrite` "
            "commit with a predicate), then read back the rows per day; a ranged run does that once, daily runs once "
            "a day. The floors write the same rows once with no key, index or replacement; pandas is `to_sql` through "
            "SQLAlchemy. PostgreSQL is a local server started for the run (127.0.0.1, default settings).",
            "",
            "| target: variant | rows | seconds | CPU s | rows/s | peak RSS MiB | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in serving_section:
            lines.append(
                f"| {r['variant']} | {r['rows']:,} | {_s(r['seconds'], 2) if ok(r) else 'failed'} | "
                f"{_s(r.get('cpu_s'), 2)} | {r['rows_per_second'] or 0:,} | {r['peak_rss_mb'] or 0:,} | "
                f"{_notes(r, (*BASE_KEYS, 'cpu_s', 'target')) if ok(r) else _error(r)} |"
            )
    setup = ", ".join(f"{k}: {v} s" for k, v in meta["setup_s"].items())
    lines += ["", f"Input generation (not measured above): {setup}.", ""]
    return "\n".join(lines)


def _code_changed(meta: dict) -> str:
    if (meta["commit_at_end"], meta["uncommitted_at_end"]) == (meta["commit"], meta["uncommitted"]):
        return ""
    dirty = meta["uncommitted_at_end"]
    return (
        f" **The code changed during the run**: at its end HEAD was `{meta['commit_at_end']}`"
        + (f" with uncommitted changes ({'; '.join(dirty)})" if dirty else "")
        + "; figures measured late in the run (backfill, start-up, ML) may be of that code."
    )


def _yes(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "**no**")


def _error(r: dict) -> str:
    text = str(r.get("error", "failed")).strip().splitlines()
    return (text[-1] if text else "failed").replace("|", "/")[:200]
