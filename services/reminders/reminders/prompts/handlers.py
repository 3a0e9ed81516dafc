"""diary's entries and questionnaires answer prompts."""

from __future__ import annotations

import uuid
from datetime import datetime

from reminders.prompts.services.answering import prompt_answer
from shared.events.catalogue import Envelope
from shared.events.registry import event_handler


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


@event_handler("diary.entry.logged")
def on_entry_logged(envelope: Envelope) -> None:
    data = envelope["data"]
    prompt_answer(
        patient_id=uuid.UUID(data["patient_id"]),
        prompt_id=_uuid(data.get("prompt_id")),
        # Only an entry with a pain score answers a pain-score prompt.
        instrument="nrs" if data.get("nrs") is not None else None,
        answered_at=datetime.fromisoformat(data["recorded_at"]),
        answer_id=uuid.UUID(data["entry_id"]),
    )


@event_handler("diary.questionnaire.completed")
def on_questionnaire_completed(envelope: Envelope) -> None:
    data = envelope["data"]
    prompt_answer(
        patient_id=uuid.UUID(data["patient_id"]),
        prompt_id=_uuid(data.get("prompt_id")),
        instrument=data["instrument"],
        answered_at=datetime.fromisoformat(data["completed_at"]),
        answer_id=uuid.UUID(data["response_id"]),
    )
