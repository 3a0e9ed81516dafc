"""Writes of the diary's patients: kept from identity's events, or from a patient's own token."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from diary.common.errors import PatientErased
from diary.common.validation import is_timezone
from diary.patients.errors import PatientNotEnrolled
from diary.patients.models import Patient
from shared.auth.principal import TokenUser
from shared.outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "UTC"


@transaction.atomic
def patient_for_write(
    *, user: TokenUser, timezone_name: str | None = None, lock: bool = False
) -> Patient:
    """The patient writing with their own token, created from the token if identity's enrolment
    event has not arrived yet.

    The token decides the clinic only for a patient the diary does not know; once known, the
    clinic follows identity's events (a token can be up to one lifetime older than a move).
    ``lock`` holds the patient's row until the caller's transaction ends, which serialises that
    patient's writes that depend on each other (courses of injections).
    """
    if user.clinic_id is None:
        raise PatientNotEnrolled()
    tz = timezone_name if timezone_name and is_timezone(timezone_name) else DEFAULT_TIMEZONE
    patient, created = Patient.objects.get_or_create(
        id=user.id, defaults={"clinic_id": user.clinic_id, "timezone": tz}
    )
    if created:
        logger.info("patient known from their token", extra={"patient_id": str(patient.id)})
    if lock:
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_erased:
        raise PatientErased()
    return patient


@transaction.atomic
def patient_lock(*, patient: Patient) -> Patient:
    """Hold ``patient``'s row until the caller's transaction ends (see ``patient_for_write``)."""
    return Patient.objects.select_for_update().get(pk=patient.pk)


@transaction.atomic
def patient_profile_apply(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    timezone_name: str,
    as_of: datetime,
) -> Patient:
    """Take identity's profile of the patient (enrolment or an update) as of ``as_of``.

    An erased patient stays erased, and a profile older than the one applied already is ignored.
    """
    tz = timezone_name if is_timezone(timezone_name) else DEFAULT_TIMEZONE
    patient, created = Patient.objects.get_or_create(
        id=patient_id,
        defaults={"clinic_id": clinic_id, "timezone": tz, "profile_as_of": as_of},
    )
    if created:
        return patient
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    if patient.is_erased:
        return patient
    if patient.profile_as_of is not None and as_of < patient.profile_as_of:
        logger.info("older patient profile ignored", extra={"patient_id": str(patient_id)})
        return patient
    patient.clinic_id = clinic_id
    patient.timezone = tz
    patient.profile_as_of = as_of
    patient.save(update_fields=["clinic_id", "timezone", "profile_as_of", "updated_at"])
    return patient


@transaction.atomic
def patient_erase(*, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> Patient:
    """Forget the patient's diary: every row of theirs goes, and the events about them that are
    still in this service's outbox.

    The patient row stays as a marker with no personal data, so that a late event or a token
    that has not expired yet cannot start a new diary for them.
    """
    patient, _ = Patient.objects.get_or_create(id=patient_id, defaults={"clinic_id": clinic_id})
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    deleted: dict[str, int] = {}
    for relation in Patient._meta.related_objects:
        rows = relation.related_model._base_manager.filter(**{relation.field.name: patient})
        count, _ = rows.delete()
        deleted[relation.related_model._meta.label_lower] = count
    OutboxEvent.objects.filter(subject=str(patient_id)).delete()
    if not patient.is_erased:
        patient.is_erased = True
        patient.erased_at = timezone.now()
        patient.timezone = DEFAULT_TIMEZONE
        patient.save(update_fields=["is_erased", "erased_at", "timezone", "updated_at"])
    logger.info("patient erased", extra={"patient_id": str(patient_id), "rows": deleted})
    return patient
