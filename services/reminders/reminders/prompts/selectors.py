"""Reads of prompts: the phone's open prompts, adherence, and a patient's timeline."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Count, DateTimeField, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from reminders.patients.models import Patient
from reminders.patients.selectors import clinic_patients
from reminders.prompts.models import Prompt, PromptStatus
from shared.auth.principal import TokenUser


def open_prompts(*, patient_id: uuid.UUID, now: datetime) -> QuerySet[Prompt]:
    """What the patient should answer now: sent, or due (its time has come even if no
    notification went out), not answered, window still open."""
    return (
        Prompt.objects.filter(patient_id=patient_id, expires_at__gt=now)
        .filter(
            Q(status__in=[PromptStatus.SENT, PromptStatus.SENDING])
            | Q(status=PromptStatus.PENDING, intended_at__lte=now)
        )
        .order_by("intended_at", "id")
    )


def own_prompt(*, patient_id: uuid.UUID, prompt_id: uuid.UUID) -> Prompt:
    prompt = Prompt.objects.filter(id=prompt_id, patient_id=patient_id).first()
    if prompt is None:
        raise Http404
    return prompt


def adherence(user: TokenUser) -> QuerySet[Patient]:
    """Per patient of the clinician's clinic: prompts sent (or answered without a send), answered,
    expired unanswered after a send, and the last answer. Counted by the database."""
    asked = Q(prompts__sent_at__isnull=False) | Q(prompts__status=PromptStatus.ANSWERED)
    return (
        clinic_patients(user)
        .annotate(
            prompts_sent=Count("prompts", filter=asked),
            prompts_answered=Count("prompts", filter=Q(prompts__status=PromptStatus.ANSWERED)),
            prompts_expired=Count(
                "prompts",
                filter=Q(prompts__status=PromptStatus.EXPIRED, prompts__sent_at__isnull=False),
            ),
            last_answered_at=Max("prompts__answered_at"),
        )
        .order_by("id")
    )


def patient_adherence(user: TokenUser, patient_id: uuid.UUID) -> Patient:
    patient = adherence(user).filter(id=patient_id).first()
    if patient is None:
        raise Http404
    return patient


def patient_timeline(*, patient_id: uuid.UUID) -> QuerySet[Prompt]:
    return Prompt.objects.filter(patient_id=patient_id).order_by("intended_at", "id")


def next_prompts(user: TokenUser, *, patient_id: uuid.UUID | None = None) -> QuerySet[Patient]:
    """Per patient of the clinician's clinic with a planned prompt (or only ``patient_id``): the
    earliest one not yet sent (its time, kind and instrument), for the dashboard."""
    planned = Prompt.objects.filter(patient=OuterRef("pk"), status=PromptStatus.PENDING).order_by(
        "intended_at", "id"
    )
    patients = clinic_patients(user)
    if patient_id is not None:
        patients = patients.filter(id=patient_id)
    return (
        patients.annotate(
            next_prompt_at=Subquery(
                planned.values("intended_at")[:1], output_field=DateTimeField()
            ),
            next_prompt_kind=Subquery(planned.values("kind")[:1]),
            next_prompt_instrument=Subquery(planned.values("instrument")[:1]),
        )
        .filter(next_prompt_at__isnull=False)
        .order_by("id")
    )
