"""The events reminders publishes (fields per shared.events.catalogue), through the outbox, in
the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from reminders.prompts.models import Prompt
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import NewEvent, event_publish, event_publish_many

PROMPT_SENT = "reminders.prompt.sent"
PROMPT_ANSWERED = "reminders.prompt.answered"
PROMPT_EXPIRED = "reminders.prompt.expired"


class PromptFacts(Protocol):
    """What an event says of a prompt: a model instance or the delivery task's lighter row."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def clinic_id(self) -> uuid.UUID: ...


class SentPromptFacts(PromptFacts, Protocol):
    @property
    def injection_id(self) -> uuid.UUID | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def intended_at(self) -> datetime: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def channel(self) -> str: ...


def _ref(prompt: PromptFacts) -> dict[str, str]:
    return {
        "prompt_id": str(prompt.id),
        "patient_id": str(prompt.patient_id),
        "clinic_id": str(prompt.clinic_id),
    }


def publish_many(events: Sequence[tuple[str, uuid.UUID, dict[str, Any]]]) -> None:
    """Many events in one INSERT, in the caller's transaction (see event_publish_many)."""
    event_publish_many([NewEvent(type, subject, data) for type, subject, data in events])


def sent_event(prompt: SentPromptFacts) -> tuple[str, uuid.UUID, dict[str, Any]]:
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
            "due_at": utc_isoformat(prompt.intended_at),
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
