"""Reads of patients, devices and preferences, scoped to the caller."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from reminders.patients.models import Device, Patient, Preference
from shared.auth.principal import Role, TokenUser


def devices_of(patient_id: uuid.UUID) -> QuerySet[Device]:
    return Device.objects.filter(patient_id=patient_id).order_by("created_at", "id")


def preference_of(patient_id: uuid.UUID) -> Preference:
    """The stored preferences, or the defaults (unsaved) when the patient never set any."""
    return Preference.objects.filter(patient_id=patient_id).first() or Preference(
        patient_id=patient_id
    )


def clinic_patients(user: TokenUser) -> QuerySet[Patient]:
    """Patients of the clinician's clinic; nothing for anyone else."""
    if not user.has_role(Role.CLINICIAN) or user.clinic_id is None:
        return Patient.objects.none()
    return Patient.objects.filter(clinic_id=user.clinic_id, erased_at__isnull=True)


def clinic_patient(user: TokenUser, patient_id: uuid.UUID) -> Patient:
    patient = clinic_patients(user).filter(id=patient_id).first()
    if patient is None:
        raise Http404
    return patient
