"""Windows that fit the dataset's volume: doubled from the configured days until they hold the rules' minimums."""

from datetime import date, timedelta

import pytest

from medallion.logic.monitoring.window_size import grow_window

DAY = date(2025, 6, 30)


def per_day(rows: int):
    def count(window: tuple[date, date]) -> int:
        return rows * ((window[1] - window[0]).days + 1)

    return count


def test_a_window_that_holds_its_minimum_keeps_the_configured_days():
    window = grow_window("predictions", DAY, 7, 91, 200, per_day(250))
    assert (window.window, window.days, window.grown, window.note()) == ((DAY - timedelta(days=6), DAY), 7, False, None)


def test_a_small_dataset_doubles_its_window_until_it_holds_the_minimum():
    window = grow_window("matured_labels", DAY, 7, 91, 200, per_day(17))  # 7 -> 14 (238 rows)
    assert (window.days, window.rows, window.grown) == (14, 238, True)
    assert window.note() == "matured labels window grown from 7 to 14 days to reach 200 matured labels"


def test_growth_stops_at_the_longest_window_and_says_what_it_holds():
    window = grow_window("matured_labels", DAY, 7, 91, 200, per_day(1))  # 7, 14, 28, 56, 91
    assert (window.days, window.rows) == (91, 91)
    assert window.note() == (
        "matured labels window grown from 7 to 91 days towards 200 matured labels and holds 91 at its longest "
        "(max_window_days)"
    )


def test_a_longest_window_shorter_than_the_configured_one_is_a_configuration_error():
    with pytest.raises(ValueError, match=r"max_window_days \(5\) must be at least window_days \(7\)"):
        grow_window("predictions", DAY, 7, 5, 200, per_day(1))


def test_a_window_with_nothing_to_gather_stays_at_the_configured_days():
    window = grow_window("matured_labels", DAY, 7, 91, 200, per_day(0))
    assert (window.days, window.rows, window.note()) == (7, 0, None)
