"""Who may read which patients' diaries.

A patient reads their own; a clinician reads the patients of the clinic in their token; clinic
and system administrators configure the product and read no diary (unless also a clinician). An
erased patient is visible to nobody.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import Http404

from diary.patients.models import Patient
from shared.auth.principal import TokenUser

M = TypeVar("M", bound=Model)


def _is_clinician(user: Any) -> bool:
    return isinstance(user, TokenUser) and user.is_clinician and user.clinic_id is not None


def _is_patient(user: Any) -> bool:
    return isinstance(user, TokenUser) and user.is_patient


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    """The patients whose diaries ``user`` may read."""
    condition = Q()
    if _is_patient(user):
        condition |= Q(id=user.id)
    if _is_clinician(user):
        condition |= Q(clinic_id=user.clinic_id)
    if not condition:
        return Patient.objects.none()
    return Patient.objects.filter(condition, is_erased=False)


def rows_visible_to(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The rows of ``queryset`` (models with a ``patient`` foreign key) ``user`` may read."""
    condition = Q()
    if _is_patient(user):
        condition |= Q(patient_id=user.id)
    if _is_clinician(user):
        condition |= Q(patient__clinic_id=user.clinic_id)
    if not condition:
        return queryset.none()
    return queryset.filter(condition, patient__is_erased=False)


def rows_of_clinic(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The rows of patients of the clinician's own clinic: what a clinician may change."""
    if not _is_clinician(user):
        return queryset.none()
    return queryset.filter(patient__clinic_id=user.clinic_id, patient__is_erased=False)


def rows_of_patient(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """The caller's own rows, as a patient: what a patient may change."""
    if not _is_patient(user):
        return queryset.none()
    return queryset.filter(patient_id=user.id, patient__is_erased=False)


def patient_get_visible(user: Any, patient_id: uuid.UUID) -> Patient | None:
    """The patient if ``user`` may read their diary. ``None`` for the caller's own id before the
    diary has heard of them (their diary is simply empty); 404 for anyone else's."""
    patient = patients_visible_to(user).filter(id=patient_id).first()
    if patient is None:
        if _is_patient(user) and user.id == patient_id:
            return None
        raise Http404
    return patient


def patient_get_of_clinic(user: Any, patient_id: uuid.UUID) -> Patient:
    """A patient of the clinician's clinic, or 404."""
    if not _is_clinician(user):
        raise Http404
    patient = Patient.objects.filter(
        id=patient_id, clinic_id=user.clinic_id, is_erased=False
    ).first()
    if patient is None:
        raise Http404
    return patient
