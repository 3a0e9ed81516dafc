"""Writes of injections. Each write is one transaction with its event, and takes a new number of
the server sequence."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from diary.common import sequence
from diary.common.errors import AlreadyDeleted, IdConflict, InvalidInput, VersionMismatch
from diary.common.idempotency import Written, canonical_digest
from diary.common.validation import error
from diary.injections.choices import RecordedByRole, Solution
from diary.injections.models import Injection
from diary.injections.validation import CLIENT_FIELDS, injection_consistency
from diary.patients.models import Patient
from diary.patients.services import patient_lock
from shared.auth.principal import TokenUser
from shared.db.update import rows_update
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import event_publish

EVENT_RECORDED = "diary.injection.recorded"
EVENT_CORRECTED = "diary.injection.corrected"
EVENT_DELETED = "diary.injection.deleted"

# Model fields a correction may change.
_CORRECTABLE = (
    "performed_at",
    "site",
    "laterality",
    "solution",
    "dextrose_percent",
    "anaesthetic",
    "guidance",
    "protocol",
    "diagnosis",
    "co_treatments",
    "course_id",
)
_CODE_FIELDS = (
    "site",
    "laterality",
    "solution",
    "anaesthetic",
    "guidance",
    "protocol",
    "diagnosis",
)


def course_gap() -> timedelta:
    """Injections further apart than this belong to different courses, unless told otherwise."""
    return timedelta(days=settings.DIARY_COURSE_GAP_DAYS)


def solution_code(injection: Injection) -> str | None:
    """The injectate as events spell it: dextrose_25, dextrose_12.5, prp, ..."""
    if not injection.solution:
        return None
    if injection.solution == Solution.DEXTROSE and injection.dextrose_percent is not None:
        return f"dextrose_{injection.dextrose_percent.normalize():f}"
    return str(injection.solution)


def injection_event_data(injection: Injection, *, clinic_id: uuid.UUID) -> dict[str, Any]:
    return {
        "injection_id": str(injection.id),
        "patient_id": str(injection.patient_id),
        "clinic_id": str(clinic_id),
        "course_id": str(injection.course_id),
        "injected_at": utc_isoformat(injection.performed_at),
        "site": injection.site or None,
        "laterality": injection.laterality or None,
        "solution": solution_code(injection),
        "guidance": injection.guidance or None,
        "protocol": injection.protocol or None,
        "diagnosis": injection.diagnosis or None,
        "co_treatments": list(injection.co_treatments),
    }


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Cleaned input as the model stores it: unknown codes as ""."""
    stored = dict(values)
    for name in _CODE_FIELDS:
        if name in stored and stored[name] is None:
            stored[name] = ""
    return stored


def _course_for(patient: Patient, performed_at: datetime) -> uuid.UUID:
    """The course an injection joins when none is named.

    The course of the patient's nearest earlier injection if it was at most one course gap before;
    else (an injection recorded late, before the others) the course of the nearest later one
    within the gap; else a new course.
    """
    live = Injection.objects.filter(patient=patient, deleted_at__isnull=True)
    before = live.filter(performed_at__lte=performed_at).order_by("-performed_at").first()
    if before is not None and performed_at - before.performed_at <= course_gap():
        return before.course_id
    after = live.filter(performed_at__gt=performed_at).order_by("performed_at").first()
    if after is not None and after.performed_at - performed_at <= course_gap():
        return after.course_id
    return uuid.uuid4()


def _check_course_owner(patient: Patient, course_id: uuid.UUID) -> None:
    if Injection.objects.filter(course_id=course_id).exclude(patient=patient).exists():
        raise InvalidInput([error("course_id", "Not a course of this patient.")])


def _course_renumber(course_id: uuid.UUID, *, written: Injection, now: datetime) -> None:
    """Number the course's live injections 1, 2, ... by when they were given.

    An injection recorded late can shift the numbers of later ones; each one whose number changes
    takes a new server sequence number so that clients that sync see the change.
    """
    rows = list(
        Injection.objects.filter(course_id=course_id, deleted_at__isnull=True).order_by(
            "performed_at", "received_at", "id"
        )
    )
    moved = []
    for number, row in enumerate(rows, start=1):
        if row.pk == written.pk:
            written.number_in_course = number
            if row.number_in_course != number:
                Injection.objects.filter(pk=row.pk).update(number_in_course=number)
        elif row.number_in_course != number:
            row.number_in_course = number
            moved.append(row)
    if moved:
        for row, seq in zip(moved, sequence.reserve(len(moved)), strict=True):
            row.server_seq = seq
            row.updated_at = now
        rows_update(Injection, moved, ["number_in_course", "server_seq", "updated_at"])


@transaction.atomic
def injection_record(
    *, patient: Patient, actor: TokenUser, values: dict[str, Any]
) -> Written[Injection]:
    """Record an injection of ``patient``: by a clinician of their clinic (verified) or
    self-reported by the patient (unverified).

    ``values`` are cleaned by ``validate_injection``. An ``id`` in them makes the create
    idempotent: the same create sent again returns the stored injection with ``created`` False;
    the id used with different content raises ``IdConflict``. Without ``course_id`` the injection
    joins a course by ``_course_for``; its number in the course is computed.
    """
    patient = patient_lock(patient=patient)
    digest = canonical_digest(values, CLIENT_FIELDS, owner=patient.id)
    injection_id = values.get("id") or uuid.uuid4()
    existing = Injection.objects.filter(pk=injection_id).first()
    if existing is not None:
        return Written(_repeat(existing, patient=patient, digest=digest), created=False)
    performed_at: datetime = values["performed_at"]
    course_id = values.get("course_id")
    if course_id is None:
        course_id = _course_for(patient, performed_at)
    else:
        _check_course_owner(patient, course_id)
    by_clinician = actor.is_clinician and actor.clinic_id == patient.clinic_id
    now = timezone.now()
    details = _stored({name: values.get(name) for name in _CORRECTABLE})
    details["course_id"] = course_id
    injection = Injection(
        id=injection_id,
        patient=patient,
        **details,
        number_in_course=0,
        recorded_by=actor.id,
        recorded_by_role=RecordedByRole.CLINICIAN if by_clinician else RecordedByRole.PATIENT,
        verified=by_clinician,
        verified_by=actor.id if by_clinician else None,
        verified_at=now if by_clinician else None,
        create_digest=digest,
        server_seq=sequence.next_value(),
        received_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            injection.save(force_insert=True)
    except IntegrityError:
        # The same id, created at this moment for another patient (the patient lock serialises
        # one patient's creates, not two patients').
        raise IdConflict("injection") from None
    _course_renumber(course_id, written=injection, now=now)
    event_publish(
        type=EVENT_RECORDED,
        subject=patient.id,
        data=injection_event_data(injection, clinic_id=patient.clinic_id),
    )
    return Written(injection, created=True)


def _repeat(existing: Injection, *, patient: Patient, digest: str) -> Injection:
    if existing.patient_id != patient.id or existing.create_digest != digest:
        raise IdConflict("injection")
    if existing.is_deleted:
        raise AlreadyDeleted("injection")
    return existing


def _locked(injection: Injection, expected_version: int | None) -> Injection:
    patient_lock(patient=injection.patient)
    locked = Injection.objects.select_for_update().select_related("patient").get(pk=injection.pk)
    if locked.is_deleted:
        raise AlreadyDeleted("injection")
    if expected_version is not None and locked.version != expected_version:
        raise VersionMismatch(locked.version)
    return locked


@transaction.atomic
def injection_correct(
    *, injection: Injection, actor: TokenUser, changes: dict[str, Any], expected_version: int
) -> Injection:
    """Apply ``changes`` (cleaned by ``validate_injection(partial=True)``) to the injection at
    ``expected_version``; a stale version raises ``VersionMismatch``.

    A change of the solution away from dextrose drops the concentration. Nothing changed: the
    injection is returned as it is, with no new version and no event.
    """
    locked = _locked(injection, expected_version)
    patient = locked.patient
    changes = _stored(changes)
    if "solution" in changes and changes["solution"] != Solution.DEXTROSE:
        changes.setdefault("dextrose_percent", None)
    merged = {name: getattr(locked, name) for name in _CORRECTABLE}
    merged.update(changes)
    errors = injection_consistency(merged)
    if errors:
        raise InvalidInput(errors)
    changed = [name for name in _CORRECTABLE if merged[name] != getattr(locked, name)]
    if not changed:
        return locked
    old_course = locked.course_id
    if "course_id" in changed:
        _check_course_owner(patient, merged["course_id"])
    before = injection_event_data(locked, clinic_id=patient.clinic_id)
    now = timezone.now()
    for name in changed:
        setattr(locked, name, merged[name])
    locked.version += 1
    locked.server_seq = sequence.next_value()
    locked.updated_at = now
    locked.save()
    _course_renumber(locked.course_id, written=locked, now=now)
    if old_course != locked.course_id:
        _course_renumber(old_course, written=locked, now=now)
    after = injection_event_data(locked, clinic_id=patient.clinic_id)
    event_publish(
        type=EVENT_CORRECTED,
        subject=patient.id,
        data={**after, "changed": [name for name in after if after[name] != before[name]]},
    )
    return locked


@transaction.atomic
def injection_verify(
    *, injection: Injection, actor: TokenUser, expected_version: int | None = None
) -> Injection:
    """A clinician of the patient's clinic confirms a self-reported injection. Verifying a
    verified injection changes nothing. No event: verification changes no field of the events."""
    locked = _locked(injection, expected_version)
    if locked.verified:
        return locked
    now = timezone.now()
    locked.verified = True
    locked.verified_by = actor.id
    locked.verified_at = now
    locked.version += 1
    locked.server_seq = sequence.next_value()
    locked.updated_at = now
    locked.save()
    return locked


@transaction.atomic
def injection_delete(
    *, injection: Injection, actor: TokenUser, expected_version: int | None = None
) -> Injection:
    """Soft-delete (entered by mistake): the row stays, with who deleted it and when, and leaves
    every list; the rest of its course is renumbered."""
    locked = _locked(injection, expected_version)
    now = timezone.now()
    locked.deleted_at = now
    locked.deleted_by = actor.id
    locked.version += 1
    locked.server_seq = sequence.next_value()
    locked.updated_at = now
    locked.save()
    _course_renumber(locked.course_id, written=locked, now=now)
    patient = locked.patient
    event_publish(
        type=EVENT_DELETED,
        subject=patient.id,
        data={
            "injection_id": str(locked.id),
            "patient_id": str(patient.id),
            "clinic_id": str(patient.clinic_id),
            "course_id": str(locked.course_id),
        },
    )
    return locked
