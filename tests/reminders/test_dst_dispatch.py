"""A 09:00 prompt is sent at 09:00 local time, once a day, on both sides of every transition:
the sweeper runs again and again while frozen time advances across the change."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from helpers import at_local, enrol, inject, local, make_template, offset, prompts_of, sends, sweep

from reminders.prompts.models import PromptStatus

pytestmark = pytest.mark.django_db

FINE = timedelta(minutes=15)
COARSE = timedelta(hours=1)


def run_sweeps(
    start: datetime,
    end: datetime,
    step: timedelta = FINE,
    *,
    tz: str | None = None,
    fine_hours: tuple[int, int] = (7, 11),
) -> int:
    """Sweep at every step from start to end. With ``tz``, every hour of the day and every
    quarter of an hour between the local ``fine_hours``: a prompt sent at any other hour would
    be caught with its wrong local time, and the morning is watched closely."""
    sweeps = 0
    with time_machine.travel(start, tick=False) as traveller:
        moment = start
        while moment <= end:
            traveller.move_to(moment)
            sweep(moment)
            sweeps += 1
            if tz is not None:
                hour = local(moment, tz).hour
                step = FINE if fine_hours[0] <= hour < fine_hours[1] else COARSE
            moment += step
    return sweeps


@pytest.mark.parametrize(
    ("tz", "transition"),
    [
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("Australia/Lord_Howe", date(2026, 4, 5)),
        ("Australia/Lord_Howe", date(2026, 10, 4)),
    ],
)
def test_a_daily_nine_oclock_prompt_fires_once_a_day_at_nine_local_across_the_change(
    tz: str, transition: date
) -> None:
    clinic = uuid.uuid4()
    make_template(clinic, [offset(days=day, at="09:00", window=4) for day in range(1, 6)])
    injected = transition - timedelta(days=2)
    start = at_local(tz, injected.year, injected.month, injected.day, 12)
    with time_machine.travel(start, tick=False):
        patient = enrol(clinic_id=clinic, tz=tz)
        inject(patient, clinic_id=clinic, at=start)

    assert run_sweeps(start, start + timedelta(days=6), tz=tz) > 6 * 24

    sent = sends()
    assert len(sent) == 5
    assert len({s.prompt_id for s in sent}) == 5
    expected_days = [injected + timedelta(days=n) for n in range(1, 6)]
    assert [local(s.recorded_at, tz).date() for s in sent] == expected_days
    for recorded in sent:
        moment = local(recorded.recorded_at, tz)
        # Sent by the first sweep at or after 09:00 local, 15-minute steps apart.
        assert time(9, 0) <= moment.time() < time(9, 15), moment
    for prompt in prompts_of(patient):
        assert local(prompt.intended_at, tz).time() == time(9, 0)
        assert prompt.sent_at is not None
        # Unanswered, each closed four hours later.
        assert prompt.status == PromptStatus.EXPIRED


def _single_prompt_at(tz: str, day: date, at: str) -> tuple[uuid.UUID, datetime]:
    clinic = uuid.uuid4()
    make_template(clinic, [offset(days=1, at=at, window=6)])
    injected = day - timedelta(days=1)
    start = at_local(tz, injected.year, injected.month, injected.day, 12)
    with time_machine.travel(start, tick=False):
        patient = enrol(clinic_id=clinic, tz=tz)
        inject(patient, clinic_id=clinic, at=start)
    return patient, start


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected_local"),
    [
        # The spring-forward gap: the local time never shows, so it moves on by the gap.
        ("America/New_York", date(2026, 3, 8), "02:30", "2026-03-08T03:30:00-04:00"),
        ("Australia/Lord_Howe", date(2026, 10, 4), "02:15", "2026-10-04T02:45:00+11:00"),
        # The fall-back fold: the first of the two 01:30s (still daylight time).
        ("America/New_York", date(2026, 11, 1), "01:30", "2026-11-01T01:30:00-04:00"),
        ("Europe/London", date(2026, 10, 25), "01:30", "2026-10-25T01:30:00+01:00"),
    ],
)
def test_non_existent_and_ambiguous_local_times_follow_the_policy_and_fire_once(
    tz: str, day: date, at: str, expected_local: str
) -> None:
    patient, _ = _single_prompt_at(tz, day, at)
    (prompt,) = prompts_of(patient)
    assert local(prompt.intended_at, tz).isoformat() == expected_local

    # Five-minute sweeps through the whole night of the change.
    night = at_local(tz, day.year, day.month, day.day, 0) - timedelta(hours=1)
    run_sweeps(night, night + timedelta(hours=7), step=timedelta(minutes=5))

    (sent,) = sends()
    assert sent.prompt_id == prompt.id
    assert timedelta(0) <= sent.recorded_at - prompt.intended_at < timedelta(minutes=5)
