"""Writes of patients, injections, devices and preferences.

The projections follow identity's and diary's events (called from handlers.py, inside the
consumer's transaction); each change that moves prompts re-plans them in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from reminders.patients.errors import DeviceNotFound, PatientUnknown
from reminders.patients.models import Device, Injection, Patient, Preference
from reminders.prompts.models import CancelReason, Prompt, PromptStatus
from reminders.prompts.services.planning import course_plan, patient_replan
from reminders.schedules.timing import UnknownTimezone, zone

logger = logging.getLogger(__name__)


def _known_timezone(name: str, patient_id: uuid.UUID) -> str | None:
    try:
        zone(name)
    except UnknownTimezone:
        # identity validates zones; this one is newer than our tz database, or a mistake.
        logger.warning(
            "patient event with a time zone we do not know", extra={"patient_id": str(patient_id)}
        )
        return None
    return name


def _patient_for_update(patient_id: uuid.UUID, clinic_id: uuid.UUID | None) -> Patient:
    patient, _ = Patient.objects.select_for_update().get_or_create(
        id=patient_id, defaults={"clinic_id": clinic_id}
    )
    return patient


@transaction.atomic
def patient_sync(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID | None,
    timezone_name: str,
    locale: str,
    now: datetime | None = None,
) -> Patient:
    """identity.patient.enrolled / .updated: keep the copy, and re-plan the patient's future
    unsent prompts when the time zone (a journey) or the clinic (its templates) changed."""
    patient = _patient_for_update(patient_id, clinic_id)
    if patient.erased_at is not None:
        return patient
    tz_name = _known_timezone(timezone_name, patient_id) or patient.timezone
    moved = patient.timezone != tz_name or patient.clinic_id != clinic_id
    patient.clinic_id = clinic_id
    patient.timezone = tz_name
    patient.locale = locale
    # A profile event never brings back a patient identity deactivated (it may arrive later).
    patient.active = patient.deactivated_at is None
    patient.save()
    if moved:
        patient_replan(patient_id=patient.id, now=now)
    return patient


def _prompts_stop(patient: Patient, reason: CancelReason, now: datetime) -> None:
    """Cancel the patient's unsent prompts (a claimed one too: its delivery finds it cancelled)
    and stop the nudges of those sent. Prompt rows stay (they hold no personal data), so
    adherence figures keep their denominators."""
    Prompt.objects.filter(
        patient=patient, status__in=[PromptStatus.PENDING, PromptStatus.SENDING]
    ).update(
        status=PromptStatus.CANCELLED,
        cancel_reason=reason,
        cancelled_at=now,
        claim_token=None,
        updated_at=now,
    )
    Prompt.objects.filter(patient=patient, status=PromptStatus.SENT).update(
        next_nudge_at=None, updated_at=now
    )


@transaction.atomic
def patient_deactivate(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID | None,
    deactivated_at: datetime,
    now: datetime | None = None,
) -> None:
    """identity.patient.deactivated: no more prompts or nudges, and none planned later. Devices
    and contact addresses stay until an erasure: deactivation keeps the patient's data."""
    now = now or timezone.now()
    patient = _patient_for_update(patient_id, clinic_id)
    if patient.deactivated_at is not None:
        return
    if patient.reactivated_at is not None and deactivated_at <= patient.reactivated_at:
        return  # undone already: its reactivation arrived first
    patient.active = False
    patient.deactivated_at = deactivated_at
    patient.save()
    _prompts_stop(patient, CancelReason.PATIENT_DEACTIVATED, now)


@transaction.atomic
def patient_reactivate(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID | None,
    reactivated_at: datetime,
    now: datetime | None = None,
) -> None:
    """identity.patient.reactivated: prompted again. The schedule's prompts still answerable
    come back (those cancelled at the deactivation included); those whose answer window closed
    meanwhile stay cancelled, so they count neither as sent nor as missed."""
    patient = _patient_for_update(patient_id, clinic_id)
    if patient.erased_at is not None:
        return
    if patient.reactivated_at is not None and reactivated_at <= patient.reactivated_at:
        return  # this reactivation, or a later one, is applied already
    if patient.deactivated_at is not None and patient.deactivated_at > reactivated_at:
        return  # a later deactivation stands
    patient.active = True
    patient.deactivated_at = None
    patient.reactivated_at = reactivated_at
    patient.save()
    patient_replan(patient_id=patient.id, now=now)


@transaction.atomic
def patient_erase(*, patient_id: uuid.UUID, now: datetime | None = None) -> None:
    """identity.patient.erased: no more prompts, no devices, no contact addresses."""
    now = now or timezone.now()
    patient = _patient_for_update(patient_id, None)
    patient.active = False
    patient.erased_at = now
    patient.save()
    _prompts_stop(patient, CancelReason.PATIENT_ERASED, now)
    Device.objects.filter(patient=patient).delete()
    Preference.objects.filter(patient=patient).delete()


@transaction.atomic
def injection_record(
    *,
    injection_id: uuid.UUID,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    course_id: uuid.UUID,
    injected_at: datetime,
    protocol: str,
    now: datetime | None = None,
) -> Injection:
    """diary.injection.recorded / .corrected: keep the copy and plan the course (both courses
    when a correction moved the injection to another)."""
    patient = _patient_for_update(patient_id, clinic_id)
    injection = Injection.objects.select_for_update().filter(id=injection_id).first()
    previous_course = injection.course_id if injection else None
    if injection is None:
        injection = Injection(id=injection_id, patient=patient)
    elif injection.injected_at != injected_at:
        # Day N counts from the corrected day.
        injection.local_date = None
    injection.course_id = course_id
    injection.injected_at = injected_at
    injection.protocol = protocol
    injection.save()
    course_plan(patient_id=patient.id, course_id=course_id, now=now)
    if previous_course is not None and previous_course != course_id:
        course_plan(patient_id=patient.id, course_id=previous_course, now=now)
    return injection


@transaction.atomic
def injection_delete(
    *,
    injection_id: uuid.UUID,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    course_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    """diary.injection.deleted: its unsent prompts are cancelled; an earlier injection's flare
    prompts that it had superseded come back if they are still ahead."""
    patient = _patient_for_update(patient_id, clinic_id)
    updated = Injection.objects.filter(id=injection_id, patient=patient).update(deleted=True)
    if not updated:
        return
    course_plan(patient_id=patient.id, course_id=course_id, now=now)


# --- The phone's own settings -----------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def patient_of_caller(*, patient_id: uuid.UUID, clinic_id: uuid.UUID | None) -> Patient:
    """The caller's patient row, made now if identity's enrolment has not arrived yet (it fills
    in the time zone); an erased patient has none."""
    patient = _patient_for_update(patient_id, clinic_id)
    if patient.erased_at is not None:
        raise PatientUnknown
    return patient


@transaction.atomic
def device_register(
    *, patient_id: uuid.UUID, clinic_id: uuid.UUID | None, platform: str, token: str
) -> tuple[Device, bool]:
    """Register a push token for the patient; returns the device and whether it is new to them.

    A token registered to another patient is taken over: the phone was handed on (or signed in
    by someone else), and a token reaches whoever holds the phone now, so the previous patient
    must stop receiving through it.
    """
    patient = patient_of_caller(patient_id=patient_id, clinic_id=clinic_id)
    now = timezone.now()
    digest = token_digest(token)
    device = Device.objects.select_for_update().filter(token_digest=digest).first()
    if device is not None and device.patient_id == patient.id:
        device.platform = platform
        device.registered_at = now
        device.save(update_fields=["platform", "registered_at"])
        return device, False
    if device is not None:
        logger.info(
            "push token taken over by another patient",
            extra={
                "device_id": str(device.id),
                "previous_patient_id": str(device.patient_id),
                "patient_id": str(patient.id),
            },
        )
        device.delete()
    device = Device.objects.create(
        patient=patient, platform=platform, token=token, token_digest=digest, registered_at=now
    )
    return device, True


@transaction.atomic
def device_remove(*, patient_id: uuid.UUID, device_id: uuid.UUID) -> None:
    """Remove one of the caller's devices; another patient's device is not found."""
    deleted, _ = Device.objects.filter(id=device_id, patient_id=patient_id).delete()
    if not deleted:
        raise DeviceNotFound


PREFERENCE_FIELDS = ("pause_until", "preferred_channel", "preferred_time", "email", "phone")
# Changing these moves prompts; contact addresses do not.
PLANNING_FIELDS = ("pause_until", "preferred_channel", "preferred_time")


@transaction.atomic
def preference_update(
    *, patient_id: uuid.UUID, clinic_id: uuid.UUID | None, changes: Mapping[str, Any]
) -> Preference:
    """Change the patient's preferences; a change of pause, channel or time of day re-plans
    their future unsent prompts."""
    patient = patient_of_caller(patient_id=patient_id, clinic_id=clinic_id)
    unknown = set(changes) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"preference fields that cannot be changed: {sorted(unknown)}")
    preference, _ = Preference.objects.select_for_update().get_or_create(patient=patient)
    changed = [f for f, v in changes.items() if getattr(preference, f) != v]
    for field in changed:
        setattr(preference, field, changes[field])
    if changed:
        preference.save()
    if any(field in PLANNING_FIELDS for field in changed):
        patient_replan(patient_id=patient.id)
    if "pause_until" in changed and preference.pause_until is not None:
        # A pause silences the reminders of prompts already sent as well.
        Prompt.objects.filter(
            patient=patient, status=PromptStatus.SENT, next_nudge_at__lt=preference.pause_until
        ).update(next_nudge_at=None, updated_at=timezone.now())
    return preference
