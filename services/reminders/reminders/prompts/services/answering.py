"""Answering: a diary entry or questionnaire answers a prompt, which stops its nudges.

By prompt id when the phone sent one (the patient tapped the prompt) and it is the patient's;
otherwise the nearest unanswered prompt of the same instrument whose window contains the moment
the entry describes (the latest one planned at or before it). An NRS entry answers an NRS prompt,
an ODI questionnaire an ODI prompt, and so on.

What counts is the moment the entry describes, not when it arrives: an entry made inside the
window on a phone that was offline answers the prompt even if the window has closed since (the
sweeper expired it, or it was planned after the fact and recorded expired without a send).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from reminders.prompts.models import Delivery, Prompt, PromptStatus
from reminders.prompts.services.events import publish_answered

OPEN_STATUSES = (PromptStatus.PENDING, PromptStatus.SENDING, PromptStatus.SENT)
# What an entry may answer when its moment falls inside the window: open prompts, and closed
# ones (an answer given offline inside the window, synced after the window closed).
ANSWERABLE_STATUSES = (*OPEN_STATUSES, PromptStatus.EXPIRED)


def _answerable_by_id(prompt: Prompt, answered_at: datetime) -> bool:
    # Expired: answered offline inside the window, synced after the window had closed.
    return prompt.status in ANSWERABLE_STATUSES and answered_at < prompt.expires_at


@transaction.atomic
def prompt_answer(
    *,
    patient_id: uuid.UUID,
    prompt_id: uuid.UUID | None,
    instrument: str | None,
    answered_at: datetime,
    answer_id: uuid.UUID | None,
) -> Prompt | None:
    """Mark the prompt this entry answers; return it, or None when it answers none."""
    prompt = None
    if prompt_id is not None:
        prompt = (
            Prompt.objects.select_for_update().filter(id=prompt_id, patient_id=patient_id).first()
        )
        if prompt is not None and not _answerable_by_id(prompt, answered_at):
            prompt = None
    if prompt is None and instrument is not None:
        prompt = (
            Prompt.objects.select_for_update()
            .filter(
                patient_id=patient_id,
                instrument=instrument,
                status__in=ANSWERABLE_STATUSES,
                intended_at__lte=answered_at,
                expires_at__gt=answered_at,
            )
            .order_by("-intended_at")
            .first()
        )
    if prompt is None:
        return None
    now = timezone.now()
    prompt.status = PromptStatus.ANSWERED
    prompt.answered_at = answered_at
    prompt.answer_id = answer_id
    prompt.next_nudge_at = None
    prompt.expired_at = None
    prompt.updated_at = now
    prompt.save(
        update_fields=[
            "status",
            "answered_at",
            "answer_id",
            "next_nudge_at",
            "expired_at",
            "updated_at",
        ]
    )
    publish_answered(prompt, answered_at=answered_at, answer_id=answer_id)
    return prompt


RECEIPT_EVENTS = ("delivered", "opened")


@transaction.atomic
def prompt_receipt(*, prompt: Prompt, event: str, at: datetime) -> Prompt:
    """The phone reports that a prompt's notification arrived or was opened (first time kept)."""
    if event not in RECEIPT_EVENTS:
        raise ValueError(f"unknown receipt event {event!r}")
    prompt = Prompt.objects.select_for_update().get(id=prompt.id)
    field = f"{event}_at"
    if getattr(prompt, field) is None:
        setattr(prompt, field, at)
        prompt.updated_at = timezone.now()
        prompt.save(update_fields=[field, "updated_at"])
    latest = Delivery.objects.filter(prompt=prompt, **{f"{field}__isnull": True}).order_by(
        "-attempt"
    )
    Delivery.objects.filter(id__in=latest.values("id")[:1]).update(**{field: at})
    return prompt


@transaction.atomic
def delivery_receipts_record(*, channel: str, receipts: list[tuple[str, str, datetime]]) -> int:
    """Providers' delivery reports (provider message id, event, when); returns how many matched."""
    matched = 0
    for provider_message_id, event, at in receipts:
        if event not in RECEIPT_EVENTS:
            continue
        delivery = (
            Delivery.objects.select_related("prompt")
            .filter(channel=channel, provider_message_id=provider_message_id)
            .first()
        )
        if delivery is None:
            continue
        field = f"{event}_at"
        if getattr(delivery, field) is None:
            setattr(delivery, field, at)
            delivery.save(update_fields=[field])
        Prompt.objects.filter(id=delivery.prompt_id, **{f"{field}__isnull": True}).update(
            **{field: at}
        )
        matched += 1
    return matched
