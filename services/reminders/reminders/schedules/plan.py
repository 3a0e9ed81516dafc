"""The prompts a template plans for one course of injections: pure computation, no database.

Planning (prompts app) reconciles this with the prompt rows; the preview endpoint shows it.

Which injections anchor what:
- ``each_injection`` offsets follow every injection of the course. A later injection supersedes
  the earlier injection's series from its own time on: an earlier series' prompts due at or after
  the next injection are not planned (reason ``superseded``), so the patient follows one flare
  at a time, the latest.
- ``first_injection_of_course`` offsets (the long horizons) count from the first injection.
- ``baseline_before_first_injection`` offsets are days before the first injection (0 or less);
  their answer window closes when the first injection is given, since a score after it is no
  baseline.
An offset whose time is not after its injection (day 0 at 09:00 for an injection at 14:00) is
not planned; nor is anything while the patient has paused prompts (reason ``paused``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reminders.schedules.models import (
    KIND_OF_ANCHOR,
    Anchor,
    ScheduleTemplate,
    TemplateOffset,
    offset_key,
)
from reminders.schedules.timing import (
    LocalInstant,
    QuietHours,
    add_months,
    instant_out_of_quiet_hours,
    local_date_of,
    scheduled_instant,
)

SUPERSEDED = "superseded"
PAUSED = "paused"


@dataclass(frozen=True)
class OffsetSpec:
    anchor: str
    months: int
    days: int
    local_time: time
    window_hours: int
    nudge_after_hours: int | None
    nudge_max: int
    channels: tuple[str, ...]
    instrument: str

    @property
    def key(self) -> str:
        return offset_key(self.anchor, self.months, self.days)

    @property
    def kind(self) -> str:
        return KIND_OF_ANCHOR[Anchor(self.anchor)]

    @classmethod
    def from_model(cls, offset: TemplateOffset) -> OffsetSpec:
        return cls(
            anchor=offset.anchor,
            months=offset.months,
            days=offset.days,
            local_time=offset.local_time,
            window_hours=offset.window_hours,
            nudge_after_hours=offset.nudge_after_hours,
            nudge_max=offset.nudge_max,
            channels=tuple(offset.channels),
            instrument=offset.instrument,
        )


@dataclass(frozen=True)
class TemplateSpec:
    id: uuid.UUID | None
    version: int
    quiet: QuietHours | None
    offsets: tuple[OffsetSpec, ...]

    @classmethod
    def from_model(cls, template: ScheduleTemplate) -> TemplateSpec:
        quiet = None
        if template.quiet_start is not None and template.quiet_end is not None:
            quiet = (template.quiet_start, template.quiet_end)
        return cls(
            id=template.id,
            version=template.version,
            quiet=quiet,
            offsets=tuple(OffsetSpec.from_model(o) for o in template.offsets.all()),
        )

    @classmethod
    def from_values(
        cls,
        *,
        quiet_start: time | None,
        quiet_end: time | None,
        offsets: Sequence[Mapping[str, Any]],
    ) -> TemplateSpec:
        """An unsaved template (validated values, e.g. from a form or the admin API): what it
        would plan, for a preview."""
        quiet = None
        if quiet_start is not None and quiet_end is not None:
            quiet = (quiet_start, quiet_end)
        return cls(
            id=None,
            version=0,
            quiet=quiet,
            offsets=tuple(
                OffsetSpec(
                    anchor=o["anchor"],
                    months=o["months"],
                    days=o["days"],
                    local_time=o["local_time"],
                    window_hours=o["window_hours"],
                    nudge_after_hours=o.get("nudge_after_hours") or None,
                    nudge_max=o["nudge_max"],
                    channels=tuple(o["channels"]),
                    instrument=o["instrument"],
                )
                for o in offsets
            ),
        )


@dataclass(frozen=True)
class InjectionFact:
    id: uuid.UUID
    injected_at: datetime
    # The local calendar day it counts from; None: the day in the planning time zone.
    local_date: date | None = None


@dataclass(frozen=True)
class PatientChoices:
    pause_until: datetime | None = None
    preferred_time: time | None = None
    preferred_channel: str = ""


@dataclass(frozen=True)
class PlannedPrompt:
    course_id: uuid.UUID
    anchor_id: uuid.UUID
    injection_id: uuid.UUID | None
    offset: OffsetSpec
    local_date: date
    local_time: time
    intended: LocalInstant
    expires_at: datetime
    channels: tuple[str, ...]
    # Why this prompt is not to be sent ('' when it is): superseded, paused.
    suppressed: str = ""
    nudges: tuple[LocalInstant, ...] = field(default=())

    @property
    def key(self) -> tuple[uuid.UUID, str, str]:
        return (self.anchor_id, self.offset.key, self.offset.instrument)


def channel_order(channels: Iterable[str], preferred: str) -> tuple[str, ...]:
    """The template's channels, the patient's preferred one first."""
    ordered = [c for c in channels if c != preferred]
    return (preferred, *ordered) if preferred else tuple(ordered)


def next_nudge(
    *,
    last_attempt_at: datetime,
    nudges_sent: int,
    nudge_after_hours: int | None,
    nudge_max: int,
    expires_at: datetime,
    tz: ZoneInfo,
    quiet: QuietHours | None,
) -> LocalInstant | None:
    """When the next nudge is due: N hours after the previous send, out of quiet hours, while
    fewer than M were sent and the answer window is still open; else None."""
    if not nudge_after_hours or nudges_sent >= nudge_max:
        return None
    candidate = instant_out_of_quiet_hours(
        last_attempt_at + timedelta(hours=nudge_after_hours), tz, quiet
    )
    return candidate if candidate.utc < expires_at else None


def _planned(
    spec: TemplateSpec,
    offset: OffsetSpec,
    *,
    course_id: uuid.UUID,
    anchor_id: uuid.UUID,
    injection_id: uuid.UUID | None,
    anchor_day: date,
    tz: ZoneInfo,
    choices: PatientChoices,
) -> PlannedPrompt:
    # Months first, in the local calendar, then days: 3 months after 30 November is 28 February.
    day = add_months(anchor_day, offset.months) + timedelta(days=offset.days)
    at = choices.preferred_time or offset.local_time
    intended = scheduled_instant(day, at, tz, spec.quiet)
    expires_at = intended.utc + timedelta(hours=offset.window_hours)
    nudges: list[LocalInstant] = []
    last = intended.utc
    while True:
        nudge = next_nudge(
            last_attempt_at=last,
            nudges_sent=len(nudges),
            nudge_after_hours=offset.nudge_after_hours,
            nudge_max=offset.nudge_max,
            expires_at=expires_at,
            tz=tz,
            quiet=spec.quiet,
        )
        if nudge is None:
            break
        nudges.append(nudge)
        last = nudge.utc
    local = intended.local
    return PlannedPrompt(
        course_id=course_id,
        anchor_id=anchor_id,
        injection_id=injection_id,
        offset=offset,
        local_date=local.date(),
        local_time=local.time(),
        intended=intended,
        expires_at=expires_at,
        channels=channel_order(offset.channels, choices.preferred_channel),
        nudges=tuple(nudges),
    )


def course_schedule(
    spec: TemplateSpec,
    *,
    course_id: uuid.UUID,
    injections: Sequence[InjectionFact],
    tz: ZoneInfo,
    choices: PatientChoices | None = None,
) -> list[PlannedPrompt]:
    """Every prompt the template plans for the course, in time order, suppressed ones included
    (with their reason) so that planning can say why a prompt it had planned was cancelled."""
    choices = choices or PatientChoices()
    if not injections:
        return []
    ordered = sorted(injections, key=lambda i: (i.injected_at, str(i.id)))
    first = ordered[0]

    def day_of(injection: InjectionFact) -> date:
        return injection.local_date or local_date_of(injection.injected_at, tz)

    out: list[PlannedPrompt] = []
    for offset in spec.offsets:
        if offset.anchor == Anchor.EACH_INJECTION:
            for index, injection in enumerate(ordered):
                planned = _planned(
                    spec,
                    offset,
                    course_id=course_id,
                    anchor_id=injection.id,
                    injection_id=injection.id,
                    anchor_day=day_of(injection),
                    tz=tz,
                    choices=choices,
                )
                if planned.intended.utc <= injection.injected_at:
                    continue
                following = ordered[index + 1] if index + 1 < len(ordered) else None
                if following is not None and planned.intended.utc >= following.injected_at:
                    planned = _suppressed(planned, SUPERSEDED)
                out.append(planned)
        elif offset.anchor == Anchor.FIRST_INJECTION_OF_COURSE:
            planned = _planned(
                spec,
                offset,
                course_id=course_id,
                anchor_id=course_id,
                injection_id=first.id,
                anchor_day=day_of(first),
                tz=tz,
                choices=choices,
            )
            if planned.intended.utc > first.injected_at:
                out.append(planned)
        else:
            planned = _planned(
                spec,
                offset,
                course_id=course_id,
                anchor_id=course_id,
                injection_id=None,
                anchor_day=day_of(first),
                tz=tz,
                choices=choices,
            )
            if planned.intended.utc < first.injected_at:
                out.append(_baseline_window(planned, first.injected_at))
    if choices.pause_until is not None:
        pause_until = choices.pause_until
        out = [
            _suppressed(p, PAUSED) if not p.suppressed and p.intended.utc < pause_until else p
            for p in out
        ]
    out.sort(key=lambda p: (p.intended.utc, p.offset.key, p.offset.instrument))
    return out


def _suppressed(planned: PlannedPrompt, reason: str) -> PlannedPrompt:
    return PlannedPrompt(**{**planned.__dict__, "suppressed": reason})


def _baseline_window(planned: PlannedPrompt, injected_at: datetime) -> PlannedPrompt:
    expires_at = min(planned.expires_at, injected_at)
    nudges = tuple(n for n in planned.nudges if n.utc < expires_at)
    return PlannedPrompt(**{**planned.__dict__, "expires_at": expires_at, "nudges": nudges})
