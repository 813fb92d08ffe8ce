from datetime import date

import pytest

from medallion.utils.dates import date_range, day_spans, pack_days


def test_day_spans_joins_consecutive_days():
    days = [*date_range(date(2025, 1, 1), date(2025, 1, 30)), date(2025, 3, 2), date(2025, 3, 4), date(2025, 3, 3)]
    assert day_spans(days) == "2025-01-01..2025-01-30, 2025-03-02..2025-03-04"
    assert day_spans([date(2025, 1, 5)]) == "2025-01-05"
    assert day_spans([]) == ""


def test_pack_days_keeps_each_slice_within_its_rows_and_a_larger_day_alone():
    days = date_range(date(2025, 1, 1), date(2025, 1, 6))
    rows = dict(zip(days, [100, 100, 50, 400, 0, 60], strict=True))
    slices = pack_days(rows, 250)
    assert slices == [days[0:3], [days[3]], days[4:6]]
    assert [day for part in slices for day in part] == days  # every day once, in order
    assert pack_days(dict.fromkeys(days, 0), 1) == [days]  # empty days cost nothing
    assert pack_days({}, 10) == []


def test_pack_days_refuses_a_budget_under_one_row():
    with pytest.raises(ValueError, match="at least one row"):
        pack_days({date(2025, 1, 1): 5}, 0)
