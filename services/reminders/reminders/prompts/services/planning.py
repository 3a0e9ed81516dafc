"""Planning: turn a course's injections, its template and the patient's settings into prompt
rows, and keep the rows in step when any of them changes.

Re-planning is an upsert on (patient, anchor, offset key, instrument) and touches only prompts
that are still ``pending`` (or ``cancelled`` by an earlier plan and wanted again): whatever is
being sent, was sent, answered or expired stays as it is, so a re-plan never sends anything
again.

A prompt whose answer window has already closed when it is planned (an injection recorded weeks
after it was given, a clinic bringing in its history) is recorded ``expired`` at once and never
sent: the patient was never asked, so no event is published and it counts against nobody's
adherence. A diary entry whose moment falls inside its window (the patient logged anyway, or the
phone was offline) still answers it (see answering). Such a closed, never-claimed prompt is the
past: a re-plan leaves it as it is, except that it cancels it when the schedule no longer wants it
(superseded by a later injection, injection deleted) and opens it again if a correction moves
its window back into the future.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reminders.patients.models import Injection, Patient, Preference
from reminders.prompts.models import CancelReason, CoursePlan, Prompt, PromptStatus
from reminders.schedules.plan import (
    InjectionFact,
    PatientChoices,
    PlannedPrompt,
    TemplateSpec,
    course_schedule,
)
from reminders.schedules.selectors import template_for
from reminders.schedules.timing import UnknownTimezone, local_date_of, zone
from shared.db.update import rows_update
from shared.outbox.services import BROKER_CONNECT_OPTIONS

logger = logging.getLogger(__name__)

REPLAN_TASK = "reminders.prompts.replan"
# Cost of one re-plan batch: each course is its own short transaction (a handful of queries,
# about 20 prompt rows); a hundred take a second or two, then the task re-queues itself.
REPLAN_BATCH_SIZE = 100

# Fields a re-plan may change on a pending prompt.
PLAN_FIELDS = (
    "clinic_id",
    "injection_id",
    "template_id",
    "template_version",
    "kind",
    "timezone",
    "local_date",
    "local_time",
    "intended_at",
    "due_at",
    "expires_at",
    "channels",
    "nudge_after_hours",
    "nudge_max",
    "quiet_start",
    "quiet_end",
    "failures",
)


@dataclass(frozen=True)
class PlanResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    revived: int = 0
    waiting: bool = False


def _plan_values(
    planned: PlannedPrompt, *, clinic_id: uuid.UUID, spec: TemplateSpec, tz_name: str
) -> dict[str, object]:
    quiet = spec.quiet or (None, None)
    return {
        "clinic_id": clinic_id,
        "injection_id": planned.injection_id,
        "template_id": spec.id,
        "template_version": spec.version,
        "kind": planned.offset.kind,
        "timezone": tz_name,
        "local_date": planned.local_date,
        "local_time": planned.local_time,
        "intended_at": planned.intended.utc,
        "due_at": planned.intended.utc,
        "expires_at": planned.expires_at,
        "channels": list(planned.channels),
        "nudge_after_hours": planned.offset.nudge_after_hours,
        "nudge_max": planned.offset.nudge_max,
        "quiet_start": quiet[0],
        "quiet_end": quiet[1],
        "failures": 0,
    }


def _cancel(row: Prompt, reason: str, now: datetime) -> None:
    row.status = PromptStatus.CANCELLED
    row.cancel_reason = reason
    row.cancelled_at = now
    row.expired_at = None
    row.claim_token = None
    row.updated_at = now


def _open_or_closed(row: Prompt, now: datetime) -> None:
    """Pending while its window is open; expired (never sent) once it has closed."""
    if row.expires_at > now:
        row.status = PromptStatus.PENDING
        row.expired_at = None
    else:
        row.status = PromptStatus.EXPIRED
        row.expired_at = row.expires_at


def closed_unsent(row: Prompt) -> bool:
    """Expired without ever being claimed for sending (planned after its window had closed, or
    never sent before it closed): nothing about it reached the patient."""
    return (
        row.status == PromptStatus.EXPIRED
        and row.attempt == 0
        and row.sent_at is None
        and row.answered_at is None
    )


def _replannable(row: Prompt) -> bool:
    return row.status == PromptStatus.PENDING or closed_unsent(row)


def _cancel_unsent(rows: Iterable[Prompt], reason: str, now: datetime) -> list[Prompt]:
    changed = [row for row in rows if _replannable(row)]
    for row in changed:
        _cancel(row, reason, now)
    return changed


def _choices(patient: Patient) -> PatientChoices:
    preference = Preference.objects.filter(patient=patient).first()
    if preference is None:
        return PatientChoices()
    return PatientChoices(
        pause_until=preference.pause_until,
        preferred_time=preference.preferred_time,
        preferred_channel=preference.preferred_channel,
    )


@transaction.atomic
def course_plan(
    *, patient_id: uuid.UUID, course_id: uuid.UUID, now: datetime | None = None
) -> PlanResult:
    """Bring the prompt rows of one course in line with its injections, template and the
    patient's time zone and preferences."""
    now = now or timezone.now()
    plan, _ = CoursePlan.objects.select_for_update().get_or_create(
        course_id=course_id, defaults={"patient_id": patient_id}
    )
    patient = Patient.objects.get(id=patient_id)
    rows: dict[PromptKey, Prompt] = {
        (row.anchor_id, row.offset_key, row.instrument): row
        # Every row of the course is locked (in id order, as delivery locks them): a prompt the
        # sweeper claims meanwhile is seen as claimed, never planned over.
        for row in Prompt.objects.select_for_update()
        .filter(patient_id=patient_id, course_id=course_id)
        .order_by("id")
    }
    injections = list(
        Injection.objects.filter(patient_id=patient_id, course_id=course_id, deleted=False)
    )

    def finish(changed: list[Prompt], result: PlanResult, **plan_fields: object) -> PlanResult:
        rows_update(Prompt, changed, [*PLAN_FIELDS, *_STATE_FIELDS])
        for name, value in plan_fields.items():
            setattr(plan, name, value)
        plan.needs_replan = False
        plan.planned_at = now
        plan.save()
        return result

    if not patient.active:
        gone = _cancel_unsent(rows.values(), CancelReason.PATIENT_ERASED, now)
        return finish(gone, PlanResult(cancelled=len(gone)))
    try:
        tz = zone(patient.timezone)
    except UnknownTimezone:
        # identity's enrolment (with the time zone) has not arrived yet; it plans the course.
        return finish([], PlanResult(waiting=True))
    if not injections:
        gone = _cancel_unsent(rows.values(), CancelReason.INJECTION_DELETED, now)
        return finish(gone, PlanResult(cancelled=len(gone)), template_id=None)
    for injection in injections:
        if injection.local_date is None:
            injection.local_date = local_date_of(injection.injected_at, tz)
            Injection.objects.filter(id=injection.id).update(local_date=injection.local_date)
    protocol = injections[0].protocol
    template = template_for(clinic_id=patient.clinic_id, protocol=protocol)
    if template is None:
        gone = _cancel_unsent(rows.values(), CancelReason.NO_TEMPLATE, now)
        return finish(
            gone,
            PlanResult(cancelled=len(gone)),
            protocol=protocol,
            template_id=None,
            template_version=None,
        )
    clinic_id = patient.clinic_id
    if clinic_id is None:
        return finish([], PlanResult(waiting=True))
    spec = TemplateSpec.from_model(template)
    schedule = course_schedule(
        spec,
        course_id=course_id,
        injections=[InjectionFact(i.id, i.injected_at, i.local_date) for i in injections],
        tz=tz,
        choices=_choices(patient),
    )
    deleted_anchors = set(
        Injection.objects.filter(
            patient_id=patient_id, course_id=course_id, deleted=True
        ).values_list("id", flat=True)
    )
    fresh = [
        _plan_values(planned, clinic_id=clinic_id, spec=spec, tz_name=patient.timezone)
        for planned in schedule
    ]
    created, touched, tally = _reconcile(
        rows,
        list(zip(schedule, fresh, strict=True)),
        deleted_anchors=deleted_anchors,
        patient_id=patient_id,
        course_id=course_id,
        now=now,
    )
    if created:
        Prompt.objects.bulk_create(created)
    live = [p.intended.utc for p in schedule if not p.suppressed]
    return finish(
        touched,
        PlanResult(
            created=len(created),
            updated=tally["updated"],
            cancelled=tally["cancelled"],
            revived=tally["revived"],
        ),
        protocol=protocol,
        template_id=template.id,
        template_version=template.version,
        last_intended_at=max(live) if live else None,
    )


_STATE_FIELDS = (
    "status",
    "cancel_reason",
    "cancelled_at",
    "expired_at",
    "claim_token",
    "updated_at",
)

PromptKey = tuple[uuid.UUID, str, str]


def _reconcile(
    rows: dict[PromptKey, Prompt],
    schedule: list[tuple[PlannedPrompt, dict[str, object]]],
    *,
    deleted_anchors: set[uuid.UUID],
    patient_id: uuid.UUID,
    course_id: uuid.UUID,
    now: datetime,
) -> tuple[list[Prompt], list[Prompt], dict[str, int]]:
    """New rows to insert, existing rows changed, and counts. Only pending rows change (and
    closed, never-sent ones: see the module's docstring); cancelled ones come back when wanted
    again while still answerable. A new prompt whose window has already closed is recorded
    expired, unsent."""
    created: list[Prompt] = []
    changed: list[Prompt] = []
    tally = {"updated": 0, "cancelled": 0, "revived": 0}
    wanted: set[PromptKey] = set()
    for planned, values in schedule:
        wanted.add(planned.key)
        row = rows.get(planned.key)
        if planned.suppressed:
            if row is not None and _replannable(row):
                _cancel(row, planned.suppressed, now)
                changed.append(row)
                tally["cancelled"] += 1
            continue
        if row is None:
            row = Prompt(
                patient_id=patient_id,
                course_id=course_id,
                anchor_id=planned.anchor_id,
                offset_key=planned.offset.key,
                instrument=planned.offset.instrument,
                created_at=now,
                updated_at=now,
                **values,
            )
            _open_or_closed(row, now)
            created.append(row)
        elif row.status == PromptStatus.PENDING:
            if any(getattr(row, k) != v for k, v in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.updated_at = now
                changed.append(row)
                tally["updated"] += 1
        elif closed_unsent(row) and planned.expires_at > now:
            # A correction moved a prompt of the past back into the future: it is asked now.
            for name, value in values.items():
                setattr(row, name, value)
            _open_or_closed(row, now)
            row.updated_at = now
            changed.append(row)
            tally["revived"] += 1
        elif row.status == PromptStatus.CANCELLED and planned.expires_at > now:
            # Cancelled by an earlier plan (paused, superseded, template) and wanted again.
            for name, value in values.items():
                setattr(row, name, value)
            row.status = PromptStatus.PENDING
            row.cancelled_at = None
            row.cancel_reason = ""
            row.updated_at = now
            changed.append(row)
            tally["revived"] += 1
    for key, row in rows.items():
        if key in wanted or not _replannable(row):
            continue
        deleted = row.anchor_id in deleted_anchors
        _cancel(
            row, CancelReason.INJECTION_DELETED if deleted else CancelReason.NOT_IN_SCHEDULE, now
        )
        changed.append(row)
        tally["cancelled"] += 1
    return created, changed, tally


def patient_courses(patient_id: uuid.UUID) -> list[uuid.UUID]:
    from_injections = set(
        Injection.objects.filter(patient_id=patient_id).values_list("course_id", flat=True)
    )
    from_plans = set(
        CoursePlan.objects.filter(patient_id=patient_id).values_list("course_id", flat=True)
    )
    return sorted(from_injections | from_plans, key=str)


def patient_replan(*, patient_id: uuid.UUID, now: datetime | None = None) -> int:
    """Re-plan every course of the patient (time zone, clinic or preferences changed)."""
    courses = patient_courses(patient_id)
    for course_id in courses:
        course_plan(patient_id=patient_id, course_id=course_id, now=now)
    return len(courses)


def courses_mark_for_replan(*, clinic_id: uuid.UUID | None, protocol: str, now: datetime) -> int:
    """Flag the courses a template of this scope may plan: those of the clinic (every clinic
    for a default), of the protocol (any for a template of any protocol), with prompts still
    ahead or with no template yet."""
    courses = CoursePlan.objects.filter(patient__active=True).filter(
        Q(last_intended_at__gt=now) | Q(template_id__isnull=True)
    )
    if clinic_id is not None:
        courses = courses.filter(patient__clinic_id=clinic_id)
    if protocol:
        courses = courses.filter(protocol=protocol)
    return courses.update(needs_replan=True)


def courses_replan_flagged(*, limit: int = REPLAN_BATCH_SIZE, now: datetime | None = None) -> int:
    """Re-plan up to ``limit`` flagged courses; return how many were re-planned."""
    flagged = list(
        CoursePlan.objects.filter(needs_replan=True)
        .order_by("id")
        .values_list("patient_id", "course_id")[:limit]
    )
    for patient_id, course_id in flagged:
        course_plan(patient_id=patient_id, course_id=course_id, now=now)
    return len(flagged)


def replan_kick() -> None:
    """Ask a worker to re-plan flagged courses now rather than at the next sweep. Runs after
    commit; a broker outage is logged, never raised (the sweep re-plans anyway)."""
    if current_app.conf.task_always_eager:
        courses_replan_flagged()
        return
    try:
        # A connection of its own that does not retry: this runs inside an admin's request.
        with current_app.connection_for_write(transport_options=BROKER_CONNECT_OPTIONS) as broker:
            current_app.send_task(REPLAN_TASK, connection=broker, retry=False)
    except Exception as exc:
        logger.warning(
            "re-plan could not be requested; the next sweep re-plans",
            extra={"error": type(exc).__name__},
        )
