"""Reads of pain entries, already scoped to the caller (see diary.patients.selectors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from diary.entries.models import PainEntry
from diary.patients.selectors import rows_of_patient, rows_visible_to


def _live() -> QuerySet[PainEntry]:
    return PainEntry.objects.filter(deleted_at__isnull=True)


def entry_list(
    *,
    user: Any,
    patient_id: uuid.UUID | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> QuerySet[PainEntry]:
    """The entries ``user`` may read, in the order they happened (late arrivals in their place);
    deleted ones are left out."""
    rows = rows_visible_to(_live(), user)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    if occurred_after is not None:
        rows = rows.filter(occurred_at__gte=occurred_after)
    if occurred_before is not None:
        rows = rows.filter(occurred_at__lt=occurred_before)
    return rows.order_by("occurred_at", "server_seq")


def entry_get(*, user: Any, entry_id: uuid.UUID) -> PainEntry:
    """An entry ``user`` may read, or 404 (also for a deleted one)."""
    entry = rows_visible_to(_live(), user).filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    return entry


def entry_get_own(*, user: Any, entry_id: uuid.UUID) -> PainEntry:
    """One of the caller's own entries, which only they may change, or 404."""
    entry = rows_of_patient(_live(), user).select_related("patient").filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    return entry
