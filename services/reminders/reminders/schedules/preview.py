"""What a template plans for one sample injection: the admin API's preview and the Django admin's
preview panel both show this.

It is the planning code itself (``course_schedule``, which plans the prompts the dispatcher
sends, with the same DST and quiet-hours rules and the same nudges), for a course of one
injection; this module only adds what a reader needs beside it: the sample's parsing, and where
the clocks change between one prompt and the next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reminders.schedules.plan import InjectionFact, PlannedPrompt, TemplateSpec, course_schedule
from reminders.schedules.timing import UnknownTimezone, zone

# The sample an administrator starts from: the demo clinic's zone, and an injection a few days
# before the last Sunday of March (when Europe's clocks go forward), so the flare prompts of the
# first week fall on both sides of a clock change.
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_INJECTION_TIME = time(10, 0)
DAYS_BEFORE_CLOCK_CHANGE = 4


class SampleInvalid(ValueError):
    """A sample the preview cannot use; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_sample(injected_at: str, timezone: str) -> tuple[datetime, ZoneInfo]:
    """The sample injection as a UTC instant, and its zone. ``injected_at`` is ISO 8601; without
    a UTC offset it is a wall-clock time in ``timezone``."""
    try:
        tz = zone(timezone)
    except UnknownTimezone:
        raise SampleInvalid(
            "timezone", "Unknown time zone; use an IANA name such as Europe/London."
        ) from None
    try:
        injected = datetime.fromisoformat(injected_at)
    except ValueError:
        raise SampleInvalid(
            "injected_at", "Give a date and time in ISO 8601, e.g. 2026-03-06T10:00."
        ) from None
    if injected.tzinfo is None:
        injected = injected.replace(tzinfo=tz)
    return injected.astimezone(UTC), tz


def default_injection(today: date) -> datetime:
    """A wall-clock time (no zone) a few days before the next last Sunday of March."""
    year = today.year
    while True:
        last_sunday = date(year, 3, 31) - timedelta(days=(date(year, 3, 31).weekday() + 1) % 7)
        day = last_sunday - timedelta(days=DAYS_BEFORE_CLOCK_CHANGE)
        if day >= today:
            return datetime.combine(day, DEFAULT_INJECTION_TIME)
        year += 1


@dataclass(frozen=True)
class ClockChange:
    """A change of the zone's UTC offset (a DST transition, or a zone changing its rules)."""

    at: datetime  # the instant, UTC
    offset_before: timedelta
    offset_after: timedelta
    name_before: str
    name_after: str

    @property
    def forward(self) -> bool:
        return self.offset_after > self.offset_before

    @property
    def wall_before(self) -> datetime:
        """The local wall-clock time the clocks show as they change (01:00 in London in March)."""
        return (self.at + self.offset_before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        """What they show right after (02:00)."""
        return (self.at + self.offset_after).replace(tzinfo=None)


@dataclass(frozen=True)
class TimelineEntry:
    prompt: PlannedPrompt
    # Clock changes since the entry before it (or, for the first, since the injection).
    clock_changes: tuple[ClockChange, ...] = ()


@dataclass(frozen=True)
class Timeline:
    tz: ZoneInfo
    injected_at: datetime
    entries: tuple[TimelineEntry, ...]

    @property
    def injected_local(self) -> datetime:
        return self.injected_at.astimezone(self.tz)


def template_timeline(spec: TemplateSpec, *, injected_at: datetime, tz: ZoneInfo) -> Timeline:
    """The prompts ``spec`` plans for a course of one injection at ``injected_at``, in time order.
    A baseline counts back from the injection as if it were recorded in advance."""
    planned = course_schedule(
        spec,
        course_id=uuid.uuid4(),
        injections=[InjectionFact(uuid.uuid4(), injected_at)],
        tz=tz,
    )
    entries = []
    previous = min([injected_at, *(p.intended.utc for p in planned)])
    for prompt in planned:
        entries.append(TimelineEntry(prompt, clock_changes(previous, prompt.intended.utc, tz)))
        previous = prompt.intended.utc
    return Timeline(tz=tz, injected_at=injected_at, entries=tuple(entries))


def clock_changes(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[ClockChange, ...]:
    """Every change of the zone's UTC offset after ``start`` and at or before ``end``."""
    changes = []
    step = timedelta(days=1)
    low = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while low < end:
        high = min(low + step, end)
        if _offset(low, tz) != _offset(high, tz):
            changes.append(_change_between(low, high, tz))
        low = high
    return tuple(changes)


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _change_between(low: datetime, high: datetime, tz: ZoneInfo) -> ClockChange:
    """The first instant after ``low`` with ``high``'s offset, to the second (zones change on
    whole seconds): bisection over at most a day."""
    before = low.astimezone(tz)
    lo, hi = low, high
    while hi - lo > timedelta(seconds=1):
        middle = lo + (hi - lo) / 2
        if _offset(middle, tz) == before.utcoffset():
            lo = middle
        else:
            hi = middle
    at = hi.replace(microsecond=0)
    if _offset(at, tz) == before.utcoffset():
        at += timedelta(seconds=1)
    after = at.astimezone(tz)
    return ClockChange(
        at=at,
        offset_before=before.utcoffset() or timedelta(0),
        offset_after=after.utcoffset() or timedelta(0),
        name_before=before.tzname() or "",
        name_after=after.tzname() or "",
    )
