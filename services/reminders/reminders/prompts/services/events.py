"""The events reminders publishes (fields per shared.events.catalogue), through the outbox, in
the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reminders.prompts.models import Prompt
from shared.events.catalogue import utc_isoformat, validate_envelope
from shared.outbox.models import OutboxEvent
from shared.outbox.services import OutboxUsageError, event_publish, outbox_relay_kick

PROMPT_SENT = "reminders.prompt.sent"
PROMPT_ANSWERED = "reminders.prompt.answered"
PROMPT_EXPIRED = "reminders.prompt.expired"


def _ref(prompt: Prompt) -> dict[str, str]:
    return {
        "prompt_id": str(prompt.id),
        "patient_id": str(prompt.patient_id),
        "clinic_id": str(prompt.clinic_id),
    }


def publish_many(events: Sequence[tuple[str, uuid.UUID, dict[str, Any]]]) -> None:
    """Many events in one INSERT, with event_publish's checks: inside the caller's transaction,
    each envelope validated strictly against the catalogue.

    A delivery task publishes hundreds of reminders.prompt.sent at once; one INSERT each took most
    of the task's time. Like event_publish, it asks for one relay run after commit.
    """
    if not events:
        return
    if not transaction.get_connection().in_atomic_block:
        raise OutboxUsageError("events must be published inside transaction.atomic()")
    now = timezone.now()
    rows = [
        OutboxEvent(
            type=type,
            version=1,
            occurred_at=now,
            producer=settings.SERVICE_NAME,
            subject=str(subject),
            data=data,
        )
        for type, subject, data in events
    ]
    for row in rows:
        validate_envelope(row.envelope())
    OutboxEvent.objects.bulk_create(rows)
    pending = transaction.get_connection().run_on_commit
    if not any(callback is outbox_relay_kick for _, callback, _ in pending):
        transaction.on_commit(outbox_relay_kick)


def sent_event(prompt: Prompt) -> tuple[str, uuid.UUID, dict[str, Any]]:
    assert prompt.sent_at is not None  # noqa: S101 - called right after marking it sent
    return (
        PROMPT_SENT,
        prompt.patient_id,
        {
            **_ref(prompt),
            "injection_id": str(prompt.injection_id) if prompt.injection_id else None,
            "kind": prompt.kind,
            "due_at": utc_isoformat(prompt.intended_at),
            "sent_at": utc_isoformat(prompt.sent_at),
            "expires_at": utc_isoformat(prompt.expires_at),
            "channel": prompt.channel,
        },
    )


def publish_answered(prompt: Prompt, *, answered_at: datetime, answer_id: uuid.UUID | None) -> None:
    event_publish(
        type=PROMPT_ANSWERED,
        subject=prompt.patient_id,
        data={
            **_ref(prompt),
            "answered_at": utc_isoformat(answered_at),
            "answer_id": str(answer_id) if answer_id else None,
        },
    )


def expired_event(prompt: Prompt) -> tuple[str, uuid.UUID, dict[str, Any]]:
    assert prompt.expired_at is not None  # noqa: S101 - called right after closing it
    return (
        PROMPT_EXPIRED,
        prompt.patient_id,
        {
            **_ref(prompt),
            "due_at": utc_isoformat(prompt.intended_at),
            "expired_at": utc_isoformat(prompt.expired_at),
        },
    )
