"""The DST policy and the local calendar, without the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from reminders.schedules.timing import (
    DST_AMBIGUOUS,
    DST_GAP,
    QUIET_HOURS,
    UnknownTimezone,
    add_months,
    instant_out_of_quiet_hours,
    scheduled_instant,
    wall_clock_to_instant,
    zone,
)


def test_a_time_in_new_yorks_spring_forward_gap_moves_forward_by_the_gap() -> None:
    result = wall_clock_to_instant(date(2026, 3, 8), time(2, 30), zone("America/New_York"))
    assert result.local.isoformat() == "2026-03-08T03:30:00-04:00"
    assert result.utc == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert result.adjustments == (DST_GAP,)


def test_a_time_new_york_shows_twice_in_autumn_takes_the_first_occurrence() -> None:
    result = wall_clock_to_instant(date(2026, 11, 1), time(1, 30), zone("America/New_York"))
    assert result.local.isoformat() == "2026-11-01T01:30:00-04:00"
    assert result.adjustments == (DST_AMBIGUOUS,)


def test_lord_howes_half_hour_gap_moves_0215_to_0245() -> None:
    result = wall_clock_to_instant(date(2026, 10, 4), time(2, 15), zone("Australia/Lord_Howe"))
    assert result.local.isoformat() == "2026-10-04T02:45:00+11:00"
    assert result.adjustments == (DST_GAP,)


def test_lord_howes_half_hour_fall_back_takes_the_first_0145() -> None:
    result = wall_clock_to_instant(date(2026, 4, 5), time(1, 45), zone("Australia/Lord_Howe"))
    assert result.local.isoformat() == "2026-04-05T01:45:00+11:00"
    assert result.adjustments == (DST_AMBIGUOUS,)


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8)),
        ("Australia/Lord_Howe", date(2026, 10, 4)),
    ],
)
def test_nine_oclock_stays_nine_oclock_on_a_transition_day(tz: str, day: date) -> None:
    result = wall_clock_to_instant(day, time(9, 0), zone(tz))
    assert result.local.time() == time(9, 0)
    assert result.local.date() == day
    assert result.adjustments == ()


def test_a_time_inside_quiet_hours_moves_to_their_end_even_across_midnight() -> None:
    tz = zone("Europe/London")
    quiet = (time(21, 0), time(8, 0))
    late = scheduled_instant(date(2026, 6, 1), time(22, 30), tz, quiet)
    early = scheduled_instant(date(2026, 6, 1), time(6, 0), tz, quiet)
    free = scheduled_instant(date(2026, 6, 1), time(8, 0), tz, quiet)
    assert late.local.isoformat() == "2026-06-02T08:00:00+01:00"
    assert early.local.isoformat() == "2026-06-01T08:00:00+01:00"
    assert late.adjustments == (QUIET_HOURS,)
    assert free.adjustments == ()


def test_a_nudge_falling_in_quiet_hours_waits_for_the_morning() -> None:
    tz = zone("Europe/London")
    nudge = instant_out_of_quiet_hours(
        datetime(2026, 6, 1, 21, 30, tzinfo=UTC), tz, (time(21, 0), time(8, 0))
    )
    assert nudge.local.isoformat() == "2026-06-02T08:00:00+01:00"


def test_months_are_counted_in_the_calendar() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 5, 15), 24) == date(2028, 5, 15)


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "../etc/passwd", "Europe/London "])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(UnknownTimezone):
        zone(name)
