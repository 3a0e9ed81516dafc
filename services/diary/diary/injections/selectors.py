"""Reads of injections, already scoped to the caller (see diary.patients.selectors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from diary.injections.models import Injection
from diary.patients.selectors import rows_of_clinic, rows_visible_to


def _live() -> QuerySet[Injection]:
    return Injection.objects.filter(deleted_at__isnull=True)


def injection_list(
    *,
    user: Any,
    patient_id: uuid.UUID | None = None,
    performed_after: datetime | None = None,
    performed_before: datetime | None = None,
) -> QuerySet[Injection]:
    """The injections ``user`` may read, oldest first; deleted ones are left out."""
    rows = rows_visible_to(_live(), user)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    if performed_after is not None:
        rows = rows.filter(performed_at__gte=performed_after)
    if performed_before is not None:
        rows = rows.filter(performed_at__lt=performed_before)
    return rows.order_by("performed_at", "server_seq")


def injection_get(*, user: Any, injection_id: uuid.UUID) -> Injection:
    """An injection ``user`` may read, or 404 (also for a deleted one)."""
    injection = rows_visible_to(_live(), user).filter(pk=injection_id).first()
    if injection is None:
        raise Http404
    return injection


def injection_get_of_clinic(*, user: Any, injection_id: uuid.UUID) -> Injection:
    """An injection of a patient of the clinician's clinic, which the clinician may change."""
    injection = (
        rows_of_clinic(_live(), user).select_related("patient").filter(pk=injection_id).first()
    )
    if injection is None:
        raise Http404
    return injection
