from datetime import date

from medallion.utils.dates import date_range, day_spans


def test_day_spans_joins_consecutive_days():
    days = [*date_range(date(2025, 1, 1), date(2025, 1, 30)), date(2025, 3, 2), date(2025, 3, 4), date(2025, 3, 3)]
    assert day_spans(days) == "2025-01-01..2025-01-30, 2025-03-02..2025-03-04"
    assert day_spans([date(2025, 1, 5)]) == "2025-01-05"
    assert day_spans([]) == ""
