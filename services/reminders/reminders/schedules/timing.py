"""Local calendar arithmetic in the patient's IANA time zone (zoneinfo), and the DST policy.

- A prompt set for 09:00 is at 09:00 local time on both sides of a transition: local wall-clock
  times are converted to instants one by one, never by adding 24-hour steps to an instant.
- A local time that does not exist (the clock jumps forward) moves forward by the length of the
  gap: 02:30 on New York's spring-forward day is 03:30 EDT; 02:15 on Lord Howe's (a 30-minute
  jump) is 02:45. This is what PEP 495's ``fold=0`` gives for a time in the gap.
- A local time that happens twice (the clock goes back) is taken at its first occurrence
  (``fold=0``): 01:30 on New York's fall-back day is 01:30 EDT.
- A time inside quiet hours moves to the end of the quiet period, then the two rules above apply.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DST_GAP = "dst_gap_moved_forward"
DST_AMBIGUOUS = "dst_ambiguous_first_occurrence"
QUIET_HOURS = "quiet_hours_moved_to_end"

MINUTES_PER_DAY = 24 * 60


class UnknownTimezone(ValueError):
    pass


QuietHours = tuple[time, time]


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; ``UnknownTimezone`` for anything else (including '')."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise UnknownTimezone(f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimezone(f"{name!r} is not an IANA time zone") from None


def add_months(day: date, months: int) -> date:
    """Calendar months: 31 January plus one month is the last day of February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def quiet_minutes(quiet: QuietHours) -> int:
    """How many minutes of the day quiet hours take (start == end is refused before this)."""
    start = quiet[0].hour * 60 + quiet[0].minute
    end = quiet[1].hour * 60 + quiet[1].minute
    return (end - start) % MINUTES_PER_DAY


def out_of_quiet_hours(day: date, at: time, quiet: QuietHours | None) -> tuple[date, time, bool]:
    """The local date and time moved to the end of the quiet period if they fall inside it."""
    if quiet is None:
        return day, at, False
    start, end = quiet
    if start < end:
        if start <= at < end:
            return day, end, True
    else:  # the quiet period spans midnight, e.g. 21:00-08:00
        if at >= start:
            return day + timedelta(days=1), end, True
        if at < end:
            return day, end, True
    return day, at, False


@dataclass(frozen=True)
class LocalInstant:
    """An instant (UTC), the local time it shows in the zone, and what rules moved it."""

    utc: datetime
    local: datetime
    adjustments: tuple[str, ...] = ()


def wall_clock_to_instant(day: date, at: time, tz: ZoneInfo) -> LocalInstant:
    """The instant of a local wall-clock time, by the DST policy above."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    instant = first.astimezone(UTC)
    local = instant.astimezone(tz)
    adjustments: tuple[str, ...] = ()
    if first.utcoffset() != second.utcoffset():
        # Either a gap (the wall time never shows) or a fold (it shows twice).
        adjustments = (DST_GAP,) if local.replace(tzinfo=None) != wall else (DST_AMBIGUOUS,)
    return LocalInstant(utc=instant, local=local, adjustments=adjustments)


def scheduled_instant(
    day: date, at: time, tz: ZoneInfo, quiet: QuietHours | None = None
) -> LocalInstant:
    """A planned local date and time, out of quiet hours, then to an instant."""
    day, at, moved = out_of_quiet_hours(day, at, quiet)
    result = wall_clock_to_instant(day, at, tz)
    if moved:
        return LocalInstant(result.utc, result.local, (QUIET_HOURS, *result.adjustments))
    return result


def instant_out_of_quiet_hours(
    instant: datetime, tz: ZoneInfo, quiet: QuietHours | None
) -> LocalInstant:
    """An instant computed by adding hours (a nudge), moved out of quiet hours if need be."""
    local = instant.astimezone(tz)
    day, at, moved = out_of_quiet_hours(local.date(), local.time(), quiet)
    if not moved:
        return LocalInstant(utc=instant.astimezone(UTC), local=local)
    result = wall_clock_to_instant(day, at, tz)
    return LocalInstant(result.utc, result.local, (QUIET_HOURS, *result.adjustments))


def local_date_of(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()
