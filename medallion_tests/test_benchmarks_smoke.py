"""`make bench` at tiny sizes: every section yields its rows, the report is written where asked (never into the
repository), and medallion's code path agrees with the DuckDB floor on what is valid and what is rejected."""

from __future__ import annotations

import json

from benchmarks.bench import Config, run


def test_benchmark_code_runs_at_tiny_sizes_and_medallion_agrees_with_the_floor(tmp_path):
    config = Config.smoke_config()
    results = run(config, tmp_path)

    assert json.loads((tmp_path / "results.json").read_text())["rows"] == json.loads(json.dumps(results["rows"]))
    report = (tmp_path / "RESULTS.md").read_text()
    headings = (
        "## Targets",
        "## ETL",
        "### Do the variants agree?",
        "## Ranged backfills",
        "## Start-up",
        "## Training",
        "## Serving",
    )
    assert all(heading in report for heading in headings)

    rows = results["rows"]
    assert [r for r in rows if "error" in r] == []
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    etl = {(r["size"], r["variant"]) for r in rows if r["section"] == "etl"}
    assert etl == {(size, v) for size in config.sizes for v in ("medallion", "duckdb floor", "pandas")}
    backfill = [r for r in rows if r["section"] == "backfill"]
    # The year and a shorter range locally (peak RSS by days), the year on the prod profile twice.
    assert len(backfill) == 4 and all(r["success"] for r in backfill)
    assert sorted(r["days"] for r in backfill if not r["variant"].startswith("prod")) == [2, 3]
    assert len([r for r in backfill if r["variant"].startswith("prod")]) == 2
    assert all(0 <= r["outside_compute_share"] <= 1 for r in backfill)
    assert all(0 < r["event_log_s"] < r["seconds"] for r in backfill)  # events were stored, within the run
    assert [r["benchmark"].split(",")[0] for r in rows if r["section"] == "startup"] == [
        "import medallion.definitions",
        "import dagster (the floor of the import above)",
        "code location load",
        "dg launch",
        "dg launch",
    ]
    assert len([r for r in rows if r["section"] == "ml"]) == 5
    serving = [r for r in rows if r["section"] == "serving"]
    assert {r["target"] for r in serving} == {"duckdb", "postgres", "delta"} and len(serving) == 10
    served = config.serving_days * config.serving_rows_per_day
    assert all(r["rows_served"] == served for r in serving if "medallion" in r["variant"])

    # Documented in RESULTS.md: medallion and the floor reject the same rows for the same first reason, and every
    # landed line is either valid or rejected; pandas finds the same valid rows.
    for check in results["agreement"]:
        medallion, floor = check["counts"]["medallion"], check["counts"]["duckdb floor"]
        assert medallion == floor
        assert sum(medallion) == check["lines"]
        assert check["same_first_reasons"] is True
        assert check["counts"]["pandas"][0] == medallion[0]
        assert check["same_gold"] == {"duckdb floor": True, "pandas": True}  # the 37 features, three ways
    launches = [r for r in rows if r["section"] == "startup" and r["variant"].startswith("dg launch")]
    assert {r["variant"] for r in launches} == {"dg launch, existing instance", "dg launch, new instance"}
    assert all(r["valid"] + r["rejected"] > 0 for r in launches)
    assert all(0 < r["steps_s"] <= r["run_s"] < r["seconds"] for r in launches)  # each run's breakdown, from its events

    targets = {t["target"] for t in results["targets"]}
    assert {"medallion ≤ 1.5 × floor + 2 s", "pandas / medallion ≥ 4×", "year backfill < 60 s"} <= targets
