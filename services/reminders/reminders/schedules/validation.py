"""What makes a schedule template valid. Used by the admin API and the Django admin alike.

Every problem is reported at once, each with the dotted path of its field, so an admin can fix a
whole template in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any, TypeGuard

from reminders.schedules.models import CHANNEL_NAMES, Anchor, Instrument
from reminders.schedules.timing import quiet_minutes

MAX_OFFSETS = 100
MAX_MONTHS = 60
MAX_DAYS = 5 * 366
# Three months: a horizon prompt may stay open for weeks, nothing needs longer.
MAX_WINDOW_HOURS = 90 * 24
MAX_NUDGES = 10
# Quiet hours must leave at least this much of the day for prompts.
MIN_ALLOWED_MINUTES = 60

Errors = list[dict[str, str]]


def _error(errors: Errors, field: str, message: str) -> None:
    errors.append({"field": field, "message": message})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def quiet_hours_errors(start: time | None, end: time | None) -> Errors:
    errors: Errors = []
    if (start is None) != (end is None):
        _error(errors, "quiet_hours", "Give both the start and the end of quiet hours, or neither.")
    elif start is not None and end is not None:
        if start == end:
            _error(
                errors,
                "quiet_hours",
                "Quiet hours that start and end at the same time would cover the whole day.",
            )
        elif 24 * 60 - quiet_minutes((start, end)) < MIN_ALLOWED_MINUTES:
            _error(
                errors,
                "quiet_hours",
                f"Quiet hours must leave at least {MIN_ALLOWED_MINUTES} minutes of the day "
                "for prompts.",
            )
    return errors


def offset_errors(offsets: Sequence[dict[str, Any]], prefix: str = "offsets") -> Errors:
    """Problems of a template's list of offsets (each a mapping of the offset's fields)."""
    errors: Errors = []
    if not offsets:
        _error(errors, prefix, "A template needs at least one offset.")
        return errors
    if len(offsets) > MAX_OFFSETS:
        _error(errors, prefix, f"A template may have at most {MAX_OFFSETS} offsets.")
        return errors
    last_by_anchor: dict[str, tuple[int, int]] = {}
    seen: dict[tuple[str, int, int, str], int] = {}
    for index, offset in enumerate(offsets):
        where = f"{prefix}[{index}]"
        before = len(errors)
        anchor = offset.get("anchor")
        instrument = offset.get("instrument")
        months, days = offset.get("months", 0), offset.get("days", 0)
        if anchor not in Anchor.values:
            _error(errors, f"{where}.anchor", f"Unknown anchor; use one of {Anchor.values}.")
        if instrument not in Instrument.values:
            _error(
                errors,
                f"{where}.instrument",
                f"Unknown instrument; use one of {Instrument.values}.",
            )
        if not _is_int(months) or not 0 <= months <= MAX_MONTHS:
            _error(errors, f"{where}.months", f"Months must be 0 to {MAX_MONTHS}.")
        if not _is_int(days) or abs(days) > MAX_DAYS:
            _error(errors, f"{where}.days", f"Days must be a whole number up to {MAX_DAYS}.")
        if anchor == Anchor.BASELINE_BEFORE_FIRST_INJECTION and _is_int(days):
            if days > 0:
                _error(
                    errors,
                    f"{where}.days",
                    "A baseline prompt comes before the first injection: days must be 0 or less.",
                )
            if months:
                _error(errors, f"{where}.months", "A baseline prompt is counted in days.")
        elif anchor in Anchor.values and _is_int(days) and days < 0:
            _error(errors, f"{where}.days", "Days after an injection cannot be negative.")
        if not isinstance(offset.get("local_time"), time):
            _error(errors, f"{where}.local_time", "Give the local time of day as HH:MM.")
        _window_and_nudge_errors(errors, offset, where)
        _channel_errors(errors, offset.get("channels"), f"{where}.channels")
        if len(errors) > before:
            continue
        key = (str(anchor), int(months), int(days), str(instrument))
        if key in seen:
            _error(
                errors,
                where,
                f"Duplicate of offset {seen[key]}: the same anchor, day and instrument.",
            )
            continue
        seen[key] = index
        position = (int(months), int(days))
        previous = last_by_anchor.get(str(anchor))
        if previous is not None and position < previous:
            _error(
                errors,
                where,
                "Offsets must be listed in time order within each anchor "
                "(this one comes before the one listed above it).",
            )
        last_by_anchor[str(anchor)] = max(position, previous or position)
    return errors


def _window_and_nudge_errors(errors: Errors, offset: dict[str, Any], where: str) -> None:
    window = offset.get("window_hours")
    after = offset.get("nudge_after_hours")
    nudges = offset.get("nudge_max", 0)
    window_ok = _is_int(window) and 1 <= window <= MAX_WINDOW_HOURS
    if not window_ok:
        _error(
            errors,
            f"{where}.window_hours",
            f"The answer window must be 1 to {MAX_WINDOW_HOURS} hours.",
        )
    if not _is_int(nudges) or not 0 <= nudges <= MAX_NUDGES:
        _error(errors, f"{where}.nudge_max", f"At most {MAX_NUDGES} nudges, and not fewer than 0.")
        return
    if nudges == 0:
        return
    if not _is_int(after) or after < 1:
        _error(
            errors,
            f"{where}.nudge_after_hours",
            "Nudges need the number of hours after which they are sent (1 or more).",
        )
        return
    if _is_int(window) and window_ok and after * nudges >= window:
        _error(
            errors,
            f"{where}.nudge_max",
            f"{nudges} nudges every {after} hours would run past the {window}-hour answer window.",
        )


def _channel_errors(errors: Errors, channels: Any, field: str) -> None:
    if not isinstance(channels, list | tuple) or not channels:
        _error(errors, field, f"List one or more channels from {list(CHANNEL_NAMES)}.")
        return
    unknown = [c for c in channels if c not in CHANNEL_NAMES]
    if unknown:
        _error(errors, field, f"Unknown channels {unknown}; use {list(CHANNEL_NAMES)}.")
    elif len(set(channels)) != len(channels):
        _error(errors, field, "A channel is listed twice.")


def template_errors(
    *,
    name: str,
    quiet_start: time | None,
    quiet_end: time | None,
    offsets: Sequence[dict[str, Any]],
) -> Errors:
    errors: Errors = []
    if not name.strip():
        _error(errors, "name", "A template needs a name.")
    errors += quiet_hours_errors(quiet_start, quiet_end)
    errors += offset_errors(offsets)
    return errors
