"""Flags as a clinician sees them: their own clinic's only; any other flag reads as not found."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from outcomes.flags.models import Flag


def clinic_flags(
    *,
    clinic_id: uuid.UUID,
    status: str | None = None,
    kind: str | None = None,
    patient_id: uuid.UUID | None = None,
) -> QuerySet[Flag]:
    flags = Flag.objects.filter(clinic_id=clinic_id)
    if status:
        flags = flags.filter(status=status)
    if kind:
        flags = flags.filter(kind=kind)
    if patient_id:
        flags = flags.filter(patient_id=patient_id)
    # Urgent first, then the newest.
    return flags.order_by("severity", "-raised_at", "id")


def clinic_flag_get(*, clinic_id: uuid.UUID, flag_id: uuid.UUID) -> Flag:
    flag = Flag.objects.filter(clinic_id=clinic_id, pk=flag_id).first()
    if flag is None:
        raise Http404
    return flag
