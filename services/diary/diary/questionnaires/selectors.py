"""Reads of questionnaire responses, already scoped to the caller."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from diary.patients.selectors import rows_visible_to
from diary.questionnaires.models import QuestionnaireResponse


def _live() -> QuerySet[QuestionnaireResponse]:
    return QuestionnaireResponse.objects.filter(deleted_at__isnull=True)


def response_list(
    *,
    user: Any,
    patient_id: uuid.UUID | None = None,
    instrument: str | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> QuerySet[QuestionnaireResponse]:
    rows = rows_visible_to(_live(), user)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    if instrument is not None:
        rows = rows.filter(instrument=instrument)
    if occurred_after is not None:
        rows = rows.filter(occurred_at__gte=occurred_after)
    if occurred_before is not None:
        rows = rows.filter(occurred_at__lt=occurred_before)
    return rows.order_by("occurred_at", "server_seq")


def response_get(*, user: Any, response_id: uuid.UUID) -> QuestionnaireResponse:
    response = rows_visible_to(_live(), user).filter(pk=response_id).first()
    if response is None:
        raise Http404
    return response
