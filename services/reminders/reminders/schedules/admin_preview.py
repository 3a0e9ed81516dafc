"""The preview panel of the template form in the Django admin: the sample the administrator
picks, and the timeline (``preview.template_timeline``) put into words for the page.

Times are formatted here, in the sample's zone and in UTC, rather than by template filters,
which would convert them to the site's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from reminders.schedules.models import Anchor, Instrument
from reminders.schedules.plan import PlannedPrompt, TemplateSpec
from reminders.schedules.preview import (
    DEFAULT_TIMEZONE,
    ClockChange,
    SampleInvalid,
    default_injection,
    parse_sample,
    template_timeline,
)
from reminders.schedules.timing import DST_AMBIGUOUS, DST_GAP, QUIET_HOURS, LocalInstant

# The names of the sample's inputs (outside the template's own form, so saving ignores them).
INJECTED_AT = "preview_injected_at"
TIMEZONE = "preview_timezone"

ADJUSTMENT_NOTES = {
    DST_GAP: "This local time does not exist that day (the clocks go forward): moved forward by "
    "the length of the gap.",
    DST_AMBIGUOUS: "This local time happens twice that day (the clocks go back): the first is "
    "used.",
    QUIET_HOURS: "Inside quiet hours: moved to their end.",
}


@dataclass(frozen=True)
class Sample:
    injected_at: str  # as the datetime-local input gives it: 2026-03-25T10:00
    timezone: str


def sample_from(data: Mapping[str, Any], today: date) -> Sample:
    """The sample in the request, or the default: a few days before a clock change."""
    injected_at = str(data.get(INJECTED_AT) or "").strip()
    tz_name = str(data.get(TIMEZONE) or "").strip()
    return Sample(
        injected_at=injected_at or default_injection(today).strftime("%Y-%m-%dT%H:%M"),
        timezone=tz_name or DEFAULT_TIMEZONE,
    )


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def result_context(
    spec: TemplateSpec | None, problems: list[str], sample: Sample
) -> dict[str, Any]:
    """What the result part of the panel shows: the template's problems, the sample's, or the
    timeline."""
    if problems:
        return {"problems": problems}
    if spec is None or not spec.offsets:
        return {"empty": True}
    try:
        injected_at, tz = parse_sample(sample.injected_at, sample.timezone)
    except SampleInvalid as exc:
        return {"sample_error": {"field": exc.field, "message": exc.message}}
    timeline = template_timeline(spec, injected_at=injected_at, tz=tz)
    rows = [_row(entry.prompt, entry.clock_changes) for entry in timeline.entries]
    return {
        "timezone": tz.key,
        "injected_local": _local(timeline.injected_local),
        "injected_utc": _utc(injected_at),
        "count": len(rows),
        "clock_changes": sum(len(row["clock_changes"]) for row in rows),
        "rows": rows,
    }


def _row(prompt: PlannedPrompt, changes: tuple[ClockChange, ...]) -> dict[str, Any]:
    offset = prompt.offset
    intended = prompt.intended
    expires_local = prompt.expires_at.astimezone(intended.local.tzinfo)
    return {
        "key": offset.key,
        "label": offset_label(offset.anchor, offset.months, offset.days),
        "kind": offset.kind,
        "instrument": offset.instrument,
        "instrument_label": Instrument(offset.instrument).label,
        "template_time": offset.local_time.strftime("%H:%M"),
        "due_local": _local(intended.local),
        "due_local_iso": intended.local.isoformat(),
        "due_utc": _utc(intended.utc),
        "due_utc_iso": _iso_utc(intended.utc),
        "utc_offset": _offset(intended.local.utcoffset()),
        "expires_local": _local(expires_local),
        "expires_iso": expires_local.isoformat(),
        "nudges": [_nudge(nudge) for nudge in prompt.nudges],
        "adjustments": list(intended.adjustments),
        "notes": [ADJUSTMENT_NOTES[a] for a in intended.adjustments if a in ADJUSTMENT_NOTES],
        "clock_changes": [_change(change) for change in changes],
    }


def _nudge(nudge: LocalInstant) -> dict[str, str]:
    text = _local(nudge.local)
    if QUIET_HOURS in nudge.adjustments:
        text += " (moved out of quiet hours)"
    return {"text": text, "iso": nudge.local.isoformat()}


def _change(change: ClockChange) -> dict[str, str]:
    amount = _duration(abs(change.offset_after - change.offset_before))
    direction = "forward" if change.forward else "back"
    wall_after = change.wall_after
    return {
        "direction": direction,
        "at_iso": _iso_utc(change.at),
        "text": (
            f"Clocks go {direction} {amount} on {change.wall_before:%a %d %b %Y}: "
            f"{change.wall_before:%H:%M} {change.name_before} becomes "
            f"{wall_after:%H:%M} {change.name_after} (UTC{_offset(change.offset_after)}). "
            "Prompts after this line keep their local time; their UTC time moves."
        ),
    }


def offset_label(anchor: str, months: int, days: int) -> str:
    if anchor == Anchor.BASELINE_BEFORE_FIRST_INJECTION:
        if days == 0:
            return "Baseline, injection day"
        return f"Baseline, {-days} day{'s' if -days != 1 else ''} before"
    parts = []
    if months:
        parts.append(f"{months} month{'s' if months != 1 else ''}")
    if days or not months:
        parts.append(f"day {days}" if not months else f"{days} day{'s' if days != 1 else ''}")
    label = " + ".join(parts)
    return label[0].upper() + label[1:]


def _local(moment: datetime) -> str:
    return f"{moment:%a %d %b %Y %H:%M} {moment.tzname() or ''}".rstrip()


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%a %d %b %Y %H:%M} UTC"


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _offset(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minutes")
    return " ".join(parts) or "0 minutes"
