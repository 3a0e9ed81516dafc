"""Querysets scoped to the caller: a patient sees their own rows, a clinician their clinic's."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from shared.auth.principal import Role, TokenUser

M = TypeVar("M", bound=Model)


def scope_to_caller(
    queryset: QuerySet[M],
    user: Any,
    *,
    patient_field: str = "patient_id",
    clinic_field: str = "clinic_id",
) -> QuerySet[M]:
    """Rows the caller may read as a patient or a clinician; nothing for anyone else.

    Clinic administrators configure, they do not browse diaries (unless also clinicians).
    """
    if not isinstance(user, TokenUser):
        return queryset.none()
    if user.has_role(Role.CLINICIAN) and user.clinic_id is not None:
        return queryset.filter(**{clinic_field: user.clinic_id})
    if user.has_role(Role.PATIENT):
        return queryset.filter(**{patient_field: user.id})
    return queryset.none()


def scope_to_patient(queryset: QuerySet[M], user: Any, *, field: str = "patient_id") -> QuerySet[M]:
    """Only the caller's own rows, whatever else the caller may be."""
    if not isinstance(user, TokenUser):
        return queryset.none()
    return queryset.filter(**{field: user.id})


def scope_to_clinic(queryset: QuerySet[M], user: Any, *, field: str = "clinic_id") -> QuerySet[M]:
    """Rows of the caller's clinic, for clinicians and clinic administrators."""
    if (
        not isinstance(user, TokenUser)
        or user.clinic_id is None
        or not user.has_role(Role.CLINICIAN, Role.CLINIC_ADMIN)
    ):
        return queryset.none()
    return queryset.filter(**{field: user.clinic_id})
