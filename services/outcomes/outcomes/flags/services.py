"""Raising flags from the read model, and the clinician's acknowledgement and resolution.

Every rule is a function of the patient's current rows, evaluated after each event about the
patient in the same transaction as the read-model change (see docs/outcomes.md, "Flags"). Each
cause has a key; raising an existing key does nothing, so a redelivered event or a repeated
evaluation never raises a cause twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from outcomes.flags.models import Flag, FlagKind, FlagSeverity, FlagStatus
from outcomes.flags.selectors import clinic_flag_get
from outcomes.readmodel.models import Course, Entry, Injection, Observation, ObservationKind, Prompt
from shared.api.errors import ProblemError
from shared.audit.services import audit_record
from shared.auth.principal import TokenUser

logger = logging.getLogger(__name__)

NSAID_WINDOW = timedelta(days=7)
# The flare normally settles within 3-4 weeks (seed 001): the first score from day 28 after an
# injection, up to two weeks later, tells whether it has.
FLARE_CHECK_AFTER = timedelta(days=28)
FLARE_CHECK_SPAN = timedelta(days=14)
# Benefit builds over about six weeks (seed 001): judged on the first score 4 weeks or more after
# the third injection of the course.
MCID_CHECK_AFTER = timedelta(days=28)
MCID_POINTS = 2.0
MCID_FRACTION = 0.30


@dataclass(frozen=True)
class _Cause:
    key: str
    kind: str
    severity: str
    course_id: uuid.UUID | None
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Score:
    """An NRS observation as the rules read it: a patient's whole history is loaded per event,
    so no model instances."""

    source_id: uuid.UUID
    occurred_at: datetime
    value: float
    course_ref: int | None


def flags_evaluate_patient(*, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> list[Flag]:
    """Raise every flag the patient's current data calls for; return the newly raised ones."""
    return _raise_new(
        patient_id, clinic_id, [*_clinical_causes(patient_id), *_low_adherence(patient_id)]
    )


def flags_evaluate_adherence(*, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> list[Flag]:
    """``flags_evaluate_patient`` after a prompt changed: prompts are the evidence of the
    missed-prompts rule only, so the other rules (scores, entries, injections) are not run."""
    return _raise_new(patient_id, clinic_id, _low_adherence(patient_id))


def _raise_new(patient_id: uuid.UUID, clinic_id: uuid.UUID, causes: list[_Cause]) -> list[Flag]:
    # Most causes were raised at an earlier event: one query finds them all.
    known = set(
        Flag.objects.filter(key__in=[cause.key for cause in causes]).values_list("key", flat=True)
    )
    raised = []
    for cause in causes:
        if cause.key in known:
            continue
        flag = _flag_raise(patient_id=patient_id, clinic_id=clinic_id, cause=cause)
        if flag is not None:
            raised.append(flag)
    return raised


def _clinical_causes(patient_id: uuid.UUID) -> list[_Cause]:
    injections = list(
        Injection.objects.filter(patient_id=patient_id, deleted=False).order_by(
            "injected_at", "injection_id"
        )
    )
    courses = {c.pk: c for c in Course.objects.filter(patient_id=patient_id)}
    nrs = [
        _Score(*row)
        for row in Observation.objects.filter(
            patient_id=patient_id, kind=ObservationKind.NRS, deleted=False
        )
        .order_by("occurred_at", "id")
        .values_list("source_id", "occurred_at", "value", "course_ref")
    ]
    entries = list(
        Entry.objects.filter(patient_id=patient_id, deleted=False)
        .filter(Q(nsaid=True) | Q(red_flag=True))
        .order_by("recorded_at", "entry_id")
    )
    return [
        *_red_flags(entries),
        *_nsaid_after_injection(entries, injections),
        *_flare_persisting(injections, courses, nrs),
        *_no_mcid_after_three(injections, courses, nrs),
    ]


def _flag_raise(*, patient_id: uuid.UUID, clinic_id: uuid.UUID, cause: _Cause) -> Flag | None:
    flag, created = Flag.objects.get_or_create(
        key=cause.key,
        defaults={
            "kind": cause.kind,
            "severity": cause.severity,
            "clinic_id": clinic_id,
            "patient_id": patient_id,
            "course_id": cause.course_id,
            "raised_at": timezone.now(),
            "evidence": cause.evidence,
        },
    )
    if not created:
        return None
    logger.log(
        logging.WARNING if cause.severity == FlagSeverity.URGENT else logging.INFO,
        "flag raised",
        extra={"flag_id": str(flag.id), "kind": flag.kind, "patient_id": str(patient_id)},
    )
    return flag


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _red_flags(entries: list[Entry]) -> list[_Cause]:
    return [
        _Cause(
            key=f"red_flag:{entry.entry_id}",
            kind=FlagKind.RED_FLAG,
            severity=FlagSeverity.URGENT,
            course_id=None,
            evidence={
                "entry_id": str(entry.entry_id),
                "recorded_at": _iso(entry.recorded_at),
                "side_effects": list(entry.side_effects),
            },
        )
        for entry in entries
        if entry.red_flag
    ]


def _nsaid_after_injection(entries: list[Entry], injections: list[Injection]) -> list[_Cause]:
    nsaid = sorted((e for e in entries if e.nsaid), key=lambda e: (e.recorded_at, str(e.entry_id)))
    causes = []
    for injection in injections:
        taken = next(
            (
                e
                for e in nsaid
                if injection.injected_at <= e.recorded_at <= injection.injected_at + NSAID_WINDOW
            ),
            None,
        )
        if taken is None:
            continue
        causes.append(
            _Cause(
                key=f"nsaid:{injection.injection_id}",
                kind=FlagKind.NSAID_AFTER_INJECTION,
                severity=FlagSeverity.REVIEW,
                course_id=injection.course_id,
                evidence={
                    "injection_id": str(injection.injection_id),
                    "entry_id": str(taken.entry_id),
                    "injected_at": _iso(injection.injected_at),
                    "recorded_at": _iso(taken.recorded_at),
                },
            )
        )
    return causes


def _first_between(
    observations: list[_Score], start: datetime, end: datetime | None
) -> _Score | None:
    for observation in observations:
        if observation.occurred_at >= start and (end is None or observation.occurred_at < end):
            return observation
    return None


def _course_by_uuid(courses: dict[int, Course]) -> dict[uuid.UUID, Course]:
    return {course.course_id: course for course in courses.values()}


def _flare_persisting(
    injections: list[Injection], courses: dict[int, Course], nrs: list[_Score]
) -> list[_Cause]:
    by_uuid = _course_by_uuid(courses)
    causes = []
    for index, injection in enumerate(injections):
        course = by_uuid.get(injection.course_id)
        if course is None or course.baseline_nrs is None:
            continue
        check_from = injection.injected_at + FLARE_CHECK_AFTER
        following = injections[index + 1].injected_at if index + 1 < len(injections) else None
        if following is not None and following < check_from:
            continue  # the next injection's own flare check takes over
        end = check_from + FLARE_CHECK_SPAN
        if following is not None and following < end:
            end = following
        score = _first_between(nrs, check_from, end)
        if score is None or score.value <= course.baseline_nrs:
            continue
        causes.append(
            _Cause(
                key=f"flare:{injection.injection_id}",
                kind=FlagKind.FLARE_PERSISTING,
                severity=FlagSeverity.REVIEW,
                course_id=course.course_id,
                evidence={
                    "injection_id": str(injection.injection_id),
                    "observation_source_id": str(score.source_id),
                    "days_after_injection": (score.occurred_at - injection.injected_at).days,
                    "nrs": score.value,
                    "baseline_nrs": course.baseline_nrs,
                },
            )
        )
    return causes


def _no_mcid_after_three(
    injections: list[Injection], courses: dict[int, Course], nrs: list[_Score]
) -> list[_Cause]:
    causes = []
    for course in courses.values():
        baseline = course.baseline_nrs
        if baseline is None or baseline <= 0:
            continue
        given = [i for i in injections if i.course_id == course.course_id]
        if len(given) < 3:
            continue
        third = given[2]
        in_course = [o for o in nrs if o.course_ref == course.pk]
        score = _first_between(in_course, third.injected_at + MCID_CHECK_AFTER, None)
        if score is None:
            continue
        improvement = baseline - score.value
        if improvement >= MCID_POINTS or improvement / baseline >= MCID_FRACTION:
            continue
        causes.append(
            _Cause(
                key=f"no_mcid:{course.course_id}",
                kind=FlagKind.NO_MCID_AFTER_THREE,
                severity=FlagSeverity.REVIEW,
                course_id=course.course_id,
                evidence={
                    "third_injection_id": str(third.injection_id),
                    "observation_source_id": str(score.source_id),
                    "nrs": score.value,
                    "baseline_nrs": baseline,
                },
            )
        )
    return causes


def _low_adherence(patient_id: uuid.UUID) -> list[_Cause]:
    window = settings.OUTCOMES_ADHERENCE_WINDOW
    closed = list(
        Prompt.objects.filter(patient_id=patient_id)
        .exclude(answered_at__isnull=True, expired_at__isnull=True)
        # The latest first; a prompt whose due time never reached us (answered, not sent, before
        # the answered event carried it) last, not first as PostgreSQL sorts nulls descending.
        .order_by(F("due_at").desc(nulls_last=True), "-prompt_id")[:window]
    )
    if len(closed) < settings.OUTCOMES_ADHERENCE_MIN_PROMPTS:
        return []
    answered = sum(1 for prompt in closed if prompt.answered_at is not None)
    percent = 100.0 * answered / len(closed)
    if percent >= settings.OUTCOMES_ADHERENCE_THRESHOLD_PERCENT:
        return []
    # One flag per episode of missed prompts: while the last one is unresolved, further missed
    # prompts belong to it; once it is resolved, only a prompt missed after that (as this service
    # learnt of it, by its own clock) starts a new one.
    last = (
        Flag.objects.filter(patient_id=patient_id, kind=FlagKind.LOW_ADHERENCE)
        .order_by("-raised_at")
        .first()
    )
    missed = [prompt for prompt in closed if prompt.answered_at is None and prompt.expired_at]
    if not missed:
        return []
    latest = max(missed, key=lambda prompt: (prompt.changed_at, str(prompt.prompt_id)))
    if last is not None and (
        last.status != FlagStatus.RESOLVED
        or last.resolved_at is None
        or latest.changed_at <= last.resolved_at
    ):
        return []
    return [
        _Cause(
            key=f"adherence:{patient_id}:{latest.prompt_id}",
            kind=FlagKind.LOW_ADHERENCE,
            severity=FlagSeverity.REVIEW,
            course_id=None,
            evidence={
                "answered": answered,
                "closed_prompts": len(closed),
                "adherence_percent": round(percent, 1),
                "latest_prompt_id": str(latest.prompt_id),
            },
        )
    ]


@transaction.atomic
def flag_acknowledge(*, flag: Flag, actor_id: uuid.UUID) -> Flag:
    """The clinician has seen the flag and is looking into it."""
    updated = Flag.objects.filter(pk=flag.pk, status=FlagStatus.OPEN).update(
        status=FlagStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=actor_id
    )
    flag.refresh_from_db()
    if not updated and flag.status == FlagStatus.RESOLVED:
        raise ProblemError(
            "This flag is already resolved.",
            status_code=409,
            problem_type="flag-resolved",
            title="Flag already resolved",
        )
    return flag


@transaction.atomic
def flag_resolve(*, flag: Flag, actor_id: uuid.UUID) -> Flag:
    """The cause has been dealt with. Resolving twice keeps the first resolution."""
    now = timezone.now()
    Flag.objects.filter(pk=flag.pk, status=FlagStatus.OPEN).update(
        acknowledged_at=now, acknowledged_by=actor_id
    )
    Flag.objects.filter(pk=flag.pk).exclude(status=FlagStatus.RESOLVED).update(
        status=FlagStatus.RESOLVED, resolved_at=now, resolved_by=actor_id
    )
    flag.refresh_from_db()
    return flag


@transaction.atomic
def flag_act(*, actor: TokenUser, clinic_id: uuid.UUID, flag_id: uuid.UUID, action: str) -> Flag:
    """Acknowledge or resolve one of the clinic's flags, audited in the same transaction.

    A flag of another clinic is not found (404); acknowledging a resolved flag is a 409 problem.
    """
    flag = clinic_flag_get(clinic_id=clinic_id, flag_id=flag_id)
    if action == "acknowledge":
        flag = flag_acknowledge(flag=flag, actor_id=actor.id)
    elif action == "resolve":
        flag = flag_resolve(flag=flag, actor_id=actor.id)
    else:
        raise ValueError(f"unknown flag action {action!r}")
    audit_record(
        actor_id=actor.id,
        actor_roles=actor.roles,
        action=f"flag.{action}",
        target_type="flag",
        target_id=flag.id,
        subject_patient_id=flag.patient_id,
        changed_fields=["status"],
    )
    return flag


def flags_erase_patient(*, patient_id: uuid.UUID) -> None:
    Flag.objects.filter(patient_id=patient_id).delete()


def flags_move_patient(*, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> None:
    """A patient who moves clinic takes their flags along: their care is the new clinic's."""
    Flag.objects.filter(patient_id=patient_id).exclude(clinic_id=clinic_id).update(
        clinic_id=clinic_id
    )
