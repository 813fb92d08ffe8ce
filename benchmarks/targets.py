"""Issue 8's targets judged on one run's measurements, and whether the ETL variants agree on the rows."""

from __future__ import annotations

RSS_LIMIT_MB = 1536  # 1.5 GiB
FLAT_TOLERANCE = 1.2  # per-row cost of a size may be at most this multiple of the next smaller size's
ETL_VARIANTS = ("medallion", "duckdb floor", "pandas", "dg launch")


def find(rows: list[dict], section: str, variant: str, size: int | None = None) -> dict | None:
    for r in rows:
        if r["section"] == section and r["variant"].startswith(variant) and (size is None or r.get("size") == size):
            return r
    return None


def ok(r: dict | None) -> bool:
    return r is not None and "error" not in r and r.get("seconds") is not None


def targets(rows: list[dict]) -> list[dict]:
    """Each target of issue 8 with the numbers it was judged on; `met` is None when a figure is missing."""
    out = []
    sizes = sorted({r["size"] for r in rows if r["section"] == "etl"})

    def add(target: str, where: str, measured: str, met: bool | None, why: str = "") -> None:
        out.append({"target": target, "where": where, "measured": measured, "met": met, "why": why if not met else ""})

    for size in sizes:
        med, floor = find(rows, "etl", "medallion", size), find(rows, "etl", "duckdb floor", size)
        pandas, launch = find(rows, "etl", "pandas", size), find(rows, "etl", "dg launch", size)
        if ok(med) and ok(floor):
            bound = 1.5 * floor["seconds"] + 2
            add(
                "medallion ≤ 1.5 × floor + 2 s",
                f"{size:,} rows",
                f"{med['seconds']:.1f} s vs bound {bound:.1f} s (floor {floor['seconds']:.1f} s; "
                f"{med['seconds'] / floor['seconds']:.1f}× floor)",
                med["seconds"] <= bound,
                _etl_profile(med, floor),
            )
        else:
            add("medallion ≤ 1.5 × floor + 2 s", f"{size:,} rows", "a variant failed", None)
        if launch is not None:
            if ok(launch) and ok(floor):
                bound = 1.5 * floor["seconds"] + 6
                add(
                    "dg launch ≤ 1.5 × floor + 6 s",
                    f"{size:,} rows",
                    f"{launch['seconds']:.1f} s vs bound {bound:.1f} s ({launch['seconds'] / floor['seconds']:.1f}× "
                    "floor)",
                    launch["seconds"] <= bound,
                    _launch_profile(launch),
                )
            else:
                add("dg launch ≤ 1.5 × floor + 6 s", f"{size:,} rows", "a variant failed", None)
        if ok(med) and ok(pandas):
            ratio = pandas["seconds"] / med["seconds"]
            add(
                "pandas / medallion ≥ 4×",
                f"{size:,} rows",
                f"{ratio:.1f}× (pandas {pandas['seconds']:.1f} s, medallion {med['seconds']:.1f} s)",
                ratio >= 4,
                f"4× needs medallion ≤ {pandas['seconds'] / 4:.1f} s; its DuckDB writes alone take "
                f"{_writes(med):.1f} s",
            )
        for variant in ("medallion", "dg launch"):
            r = find(rows, "etl", variant, size)
            if r is None:
                continue
            peak = r.get("peak_rss_mb")
            add(
                "peak RSS ≤ 1.5 GiB",
                f"{variant}, {size:,} rows",
                f"{peak:,} MiB" if peak is not None else "failed",
                None if peak is None or not ok(r) else peak <= RSS_LIMIT_MB,
                _memory_profile(r),
            )
    per_row = [(size, r["seconds"] / size * 1e6) for size in sizes if ok(r := find(rows, "etl", "medallion", size))]
    if len(per_row) >= 2:
        flat = all(b[1] <= FLAT_TOLERANCE * a[1] for a, b in zip(per_row, per_row[1:], strict=False))
        add(
            f"cost per row flat (each size ≤ {FLAT_TOLERANCE}× the next smaller one's)",
            "medallion, " + " vs ".join(f"{s:,}" for s, _ in per_row),
            " vs ".join(f"{c:.1f} µs/row" for _, c in per_row),
            flat,
        )
    year_days = max((r["days"] for r in rows if r["section"] == "backfill" and "days" in r), default=None)
    local = [r for r in rows if r["section"] == "backfill" and not r["variant"].startswith("prod") and ok(r)]
    if len(local) >= 2:
        peaks = [(r["days"], r["peak_rss_mb"]) for r in sorted(local, key=lambda r: r["days"])]
        # DuckDB's cache fills up to MEDALLION_WAREHOUSE_MEMORY as the warehouse grows, so a short range peaks lower;
        # "flat" is judged where it is full: the longest range against the one before it.
        (before_days, before_mb), (last_days, last_mb) = peaks[-2], peaks[-1]
        flat = last_mb <= RANGED_FLAT_TOLERANCE * before_mb
        add(
            f"ranged run's peak RSS flat in its days and ≤ {RANGED_RSS_LIMIT_MB:,} MiB (issue 21)",
            "local, " + " vs ".join(f"{d} days" for d, _ in peaks),
            " vs ".join(f"{mb:,.0f} MiB" for _, mb in peaks),
            flat and all(mb <= RANGED_RSS_LIMIT_MB for _, mb in peaks),
            f"{last_days} days within {RANGED_FLAT_TOLERANCE}× of {before_days} days' peak"
            if flat
            else f"{last_days} days' peak is {last_mb / before_mb:.2f}× {before_days} days' (flat allows "
            f"{RANGED_FLAT_TOLERANCE}×): DuckDB's cache is still filling towards its limit (512 MB by default)",
        )
    by_workers = {r["variant"]: r for r in rows if r["section"] == "backfill" and "runs" in r and ok(r)}
    one = next((r for v, r in by_workers.items() if ", 1 Celery" in v), None)
    two = next((r for v, r in by_workers.items() if ", 2 Celery" in v), None)
    if one and two:
        add(
            "prod: 2 Celery workers ≥ 1.6× the throughput of 1 (issue 21)",
            "the year through the webserver, runs of days on the workers",
            f"{one['seconds']:.0f} s vs {two['seconds']:.0f} s ({one['seconds'] / two['seconds']:.2f}×)",
            one["seconds"] / two["seconds"] >= 1.6,
            f"{one['runs']} runs; 2 workers used {two['workers_used']}",
        )
    year_local = next((r for r in local if r["days"] == year_days), None)
    if two and year_local:
        add(
            "prod with 2 workers ≤ the local one-run year (issue 21)",
            "prod, 2 Celery workers vs local, in process",
            f"{two['seconds']:.0f} s vs {year_local['seconds']:.0f} s",
            two["seconds"] <= year_local["seconds"],
        )
    for r in rows:
        if r["section"] == "backfill" and (r.get("days", year_days) != year_days or "runs" in r):
            continue
        if r["section"] == "backfill" and r["variant"].startswith("prod"):
            add(
                "year backfill on the prod profile ≤ 19 s (issue 12)",
                r["variant"],
                f"{r['seconds']:.1f} s" if ok(r) else "failed",
                (r["seconds"] <= 19 and r.get("success", True)) if ok(r) else None,
                _backfill_profile(r) if ok(r) else "",
            )
        elif r["section"] == "backfill":
            add(
                "year backfill < 60 s",
                r["variant"],
                f"{r['seconds']:.1f} s" if ok(r) else "failed",
                (r["seconds"] < 60 and r.get("success", True)) if ok(r) else None,
                _backfill_profile(r) if ok(r) else "",
            )
    imported = next((r for r in rows if r["benchmark"] == "import medallion.definitions"), None)
    dagster = next((r for r in rows if r["benchmark"].startswith("import dagster")), None)
    if imported is not None:
        add(
            "import medallion.definitions ≤ 1.0 s",
            "best of fresh interpreters",
            f"{imported['seconds']:.2f} s" if ok(imported) else "failed",
            imported["seconds"] <= 1.0 if ok(imported) else None,
            f"`import dagster` alone takes {dagster['seconds']:.2f} s" if ok(dagster) else "",
        )
    launch = find(rows, "startup", "dg launch, existing instance")
    new_instance = find(rows, "startup", "dg launch, new instance")
    if launch is not None:
        add(
            "one-partition dg launch ≤ 5 s",
            f"{launch['rows']:,} rows, existing instance",
            f"{launch['seconds']:.1f} s" if ok(launch) else "failed",
            launch["seconds"] <= 5 if ok(launch) else None,
            _launch_profile(launch)
            + (f"; a new instance {new_instance['seconds']:.1f} s (creates its databases)" if ok(new_instance) else ""),
        )
    scoring = find(rows, "ml", "medallion score_features")
    model = find(rows, "ml", "floor: the model's predict_proba")
    if scoring is not None:
        add(
            "inference ≥ 200k rows/s",
            f"{scoring['rows']:,} rows",
            f"{scoring['rows_per_second']:,} rows/s" if ok(scoring) else "failed",
            scoring["rows_per_second"] >= 200_000 if ok(scoring) else None,
            f"the model's own predict_proba on a ready matrix: {model['rows_per_second']:,} rows/s "
            f"({model['seconds'] / scoring['seconds']:.0%} of the time)"
            if ok(model) and ok(scoring)
            else "",
        )
    return out


WRITES = ("bronze_write_s", "silver_write_s", "gold_write_s")


def _writes(r: dict) -> float:
    return sum(r.get(key) or 0 for key in WRITES)


def _etl_profile(med: dict, floor: dict) -> str:
    return (
        f"medallion's DuckDB writes alone take {_writes(med):.1f} s (bronze {med.get('bronze_write_s')} s, silver + "
        f"quarantine {med.get('silver_write_s')} s, gold {med.get('gold_write_s')} s; the floor writes no bronze: "
        f"{floor.get('split_write_s')} s); reading {med.get('read_s')} s + validating {med.get('validate_s')} s vs "
        f"the floor's {floor.get('read_validate_s')} s"
    )


RANGED_FLAT_TOLERANCE = 1.15  # the longest range's peak against the next shorter one's
RANGED_RSS_LIMIT_MB = 1536


def _backfill_profile(r: dict) -> str:
    event_log = (
        f"Dagster's event log {r['event_log_s']:.0f} s ({r['event_log_share']:.0%}) for {r['events']:,} events; "
        if r.get("event_log_s") is not None
        else ""
    )
    return (
        f"{event_log}asset steps {r['asset_steps_s']:.0f} s (assets' own compute {r['assets_compute_s']:.0f} s, the "
        f"rest the IO manager's reads and writes and their events), check steps {r['check_steps_s']:.0f} s, outside "
        f"steps {r['outside_steps_s']:.0f} s (run orchestration and its events)"
    )


def _launch_profile(launch: dict) -> str:
    if launch.get("run_s") is None:
        return ""
    return (
        f"the run itself {launch['run_s']:.1f} s (steps {launch['steps_s']:.1f} s; slowest {launch['slowest_steps']}); "
        f"the other {launch['seconds'] - launch['run_s']:.1f} s start the process, import and load the definitions"
    )


def _memory_profile(r: dict) -> str:
    if r.get("peak_after_validate_mb") is None:
        return ""
    return (
        f"peak after reading and writing bronze {r['peak_after_read_mb']:,} MiB, after validating "
        f"{r['peak_after_validate_mb']:,} MiB (bronze records, their typed values and silver alive together), then "
        "gold and DuckDB's write buffers"
    )


def agreement(rows: list[dict]) -> list[dict]:
    """Per size: valid and rejected counts of every ETL variant, and whether medallion and the floor agree."""
    out = []
    for size in sorted({r["size"] for r in rows if r["section"] == "etl"}):
        by_variant = {v: find(rows, "etl", v, size) for v in ETL_VARIANTS}
        lines = next(r["lines"] for r in by_variant.values() if r is not None)
        counts = {v: (r.get("valid"), r.get("rejected")) for v, r in by_variant.items() if ok(r)}
        med, floor = by_variant["medallion"], by_variant["duckdb floor"]
        same_reasons = None
        if ok(med) and ok(floor):
            same_reasons = med.get("first_reasons") == floor.get("first_reasons")
        out.append(
            {
                "size": size,
                "lines": lines,
                "counts": counts,
                "medallion_equals_floor": counts.get("medallion") == counts.get("duckdb floor")
                if "medallion" in counts and "duckdb floor" in counts
                else None,
                "same_first_reasons": same_reasons,
                "reason_differences": _reason_differences(med, floor) if same_reasons is False else {},
                "same_gold": {
                    v: _same_sums(med.get("gold_sums"), by_variant[v].get("gold_sums"))
                    for v in ("duckdb floor", "pandas")
                    if ok(med) and ok(by_variant[v])
                },
            }
        )
    return out


def _reason_differences(med: dict, floor: dict) -> dict:
    a, b = med.get("first_reasons") or {}, floor.get("first_reasons") or {}
    return {k: (a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)}


def _same_sums(a: dict | None, b: dict | None) -> bool | None:
    """Whether two variants' gold columns have the same sums (to 1e-9 relative: summation order differs)."""
    if not a or not b:
        return None
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= 1e-9 * max(1.0, abs(a[k])) for k in a)
