"""Realistic landing input for the applications feed: `generate(...)` output rewritten the way real deliveries look.

One day of `rows` applications (from `medallion.sources.generate.generate` with a few injected faults:
non-numeric text, out-of-range values, empty fields, repeated rows) is rewritten as:

- a UTF-8 byte-order mark and CRLF line endings in every file;
- about 0.1 % of values wrapped in double quotes, still valid (`"20000"`);
- about 0.02 % of values quoted with a comma inside (`"20,000"`, `"5,5"`): one field, not a number
  (quarantined as `invalid_type`);
- about 0.01 % of lines with an extra field (quarantined as `malformed_line`);
- about 0.1 % of lines delivered a second time, identical, later in the day (possibly in a later file);
- the day split into 4 files of different sizes, names and modification times, whose delivery order
  (mtime) is not their name order.

Everything is drawn from one seeded generator, so a size and seed always give the same bytes (and mtimes).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from medallion.sources.landing import APPLICATIONS, day_dir

DAY = date(2025, 6, 1)
GENERATE_FAULTS = 0.002  # generate()'s own faults: ~0.05 % each of non-numeric, out-of-range, empty, repeated row
QUOTED_SHARE = 0.001  # of values
QUOTED_COMMA_SHARE = 0.0002  # of values
MALFORMED_SHARE = 0.0001  # of lines
DUPLICATE_SHARE = 0.001  # of lines
# The day's lines cut into 4 files: shares of the lines, and each file's delivery time after 06:00 UTC.
FILE_SHARES = (0.2, 0.3, 0.25, 0.25)
FILE_DELIVERY_MINUTES = (30, 10, 50, 20)
AMOUNT_COLUMNS = ("LIMIT_BAL", *(f"BILL_AMT{i}" for i in range(1, 7)), *(f"PAY_AMT{i}" for i in range(1, 7)))


def build_landing_day(home: Path, rows: int, seed: int = 7, day: date = DAY) -> dict:
    """Land `rows` rewritten applications for `day` under `home/landing` and return what was written.

    The result names the files (`files`, in name order, as `list_day_files` gives them) and counts what the
    rewrite did (`lines`: data lines over all files, `quoted`, `quoted_comma`, `malformed`, `duplicates`).
    """
    from medallion.sources.generate import generate

    home = Path(home)
    scratch = home / "generated"
    generate(scratch, day, 1, rows, faults=GENERATE_FAULTS, seed=seed)
    generated = day_dir(scratch, APPLICATIONS, day) / f"applications_{day.isoformat()}.csv"
    header, *lines = generated.read_text().split("\n")[:-1]
    shutil.rmtree(scratch)

    rng = np.random.default_rng([seed, rows])
    columns = header.split(",")
    width = len(columns)
    n = len(lines)
    cells = n * width
    # Distinct cells for the two kinds of quoting, so a value is quoted at most once.
    n_quoted, n_comma = round(cells * QUOTED_SHARE), round(cells * QUOTED_COMMA_SHARE)
    picked = rng.choice(cells, n_quoted + n_comma, replace=False) if cells else np.empty(0, dtype=np.int64)
    amount_index = [columns.index(c) for c in AMOUNT_COLUMNS]
    edits: dict[int, dict[int, str]] = {}
    for cell in picked[:n_quoted]:
        line, field = divmod(int(cell), width)
        edits.setdefault(line, {})[field] = "quoted"
    for cell in picked[n_quoted:]:
        line = int(cell) // width
        edits.setdefault(line, {})[amount_index[int(rng.integers(len(amount_index)))]] = "comma"
    for line, fields in edits.items():
        values = lines[line].split(",")
        for field, kind in fields.items():
            values[field] = f'"{values[field]}"' if kind == "quoted" else f'"{_with_comma(values[field])}"'
        lines[line] = ",".join(values)
    kinds = [kind for fields in edits.values() for kind in fields.values()]

    malformed = rng.choice(n, round(n * MALFORMED_SHARE), replace=False) if n else []
    for line in malformed:
        lines[int(line)] += "," + str(int(rng.integers(0, 100)))

    # Repeated deliveries: a copy of line i goes somewhere after it (placed by a fractional sort key).
    sources = np.sort(rng.choice(n, round(n * DUPLICATE_SHARE), replace=False)) if n else np.empty(0, dtype=np.int64)
    positions = sources + 0.5 + rng.random(len(sources)) * (n - sources)
    keys = np.concatenate([np.arange(n, dtype=np.float64), positions])
    every = lines + [lines[int(i)] for i in sources]
    ordered = [every[int(i)] for i in np.argsort(keys, kind="stable")]

    folder = day_dir(home / "landing", APPLICATIONS, day)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.round(np.cumsum((0, *FILE_SHARES)) * len(ordered)).astype(int)
    delivered = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    files = []
    for part, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True), start=1):
        path = folder / f"applications_{day.isoformat()}_part{part}.csv"
        body = "\r\n".join([header, *ordered[lo:hi]]) + "\r\n"
        path.write_bytes(b"\xef\xbb\xbf" + body.encode())
        mtime = (delivered + timedelta(minutes=FILE_DELIVERY_MINUTES[part - 1])).timestamp()
        os.utime(path, (mtime, mtime))
        files.append(path)
    return {
        "files": [str(p) for p in files],
        "rows": rows,
        "lines": len(ordered),
        "bytes": sum(p.stat().st_size for p in files),
        "quoted": kinds.count("quoted"),
        "quoted_comma": kinds.count("comma"),
        "malformed": len(malformed),
        "duplicates": len(sources),
    }


def _with_comma(value: str) -> str:
    """A number written the way a person or a spreadsheet might: 20000 → 20,000; 500 → 500,5."""
    digits = value.lstrip("-")
    if len(digits) > 3:
        return value[: len(value) - 3] + "," + value[len(value) - 3 :]
    return (value or "0") + ",5"


def build_year(home: Path, start: date, days: int, rows_per_day: int, seed: int = 11) -> dict:
    """`days` days of generated applications (and their outcomes, 30 days later) under `home/landing`."""
    from medallion.sources.generate import generate

    summary = generate(Path(home) / "landing", start, days, rows_per_day, faults=GENERATE_FAULTS, seed=seed)
    return {"rows": summary.rows, "files": summary.files_written}
