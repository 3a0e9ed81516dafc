"""Writes of questionnaire responses: created once each (idempotently), with their event."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from diary.common.creation import Outcome, create_idempotent, written_or_raise
from diary.common.idempotency import Written, canonical_digest
from diary.common.prompts import PROMPT_TAKEN, prompt_ids_of_others
from diary.common.validation import error
from diary.patients.models import Patient
from diary.questionnaires.instruments import instrument_get
from diary.questionnaires.models import QuestionnaireResponse
from diary.questionnaires.validation import CLIENT_FIELDS
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import event_publish

EVENT_COMPLETED = "diary.questionnaire.completed"


def response_digest(cleaned: dict[str, Any], *, patient_id: uuid.UUID) -> str:
    """The fingerprint of a create: its client-supplied fields, cleaned, and its patient."""
    return canonical_digest(cleaned, CLIENT_FIELDS, owner=patient_id)


def response_event_data(response: QuestionnaireResponse, *, clinic_id: uuid.UUID) -> dict[str, Any]:
    data: dict[str, Any] = {
        "response_id": str(response.id),
        "patient_id": str(response.patient_id),
        "clinic_id": str(clinic_id),
        "instrument": response.instrument,
        "completed_at": utc_isoformat(response.occurred_at),
        "score": response.score,
        "prompt_id": str(response.prompt_id) if response.prompt_id else None,
    }
    instrument = instrument_get(response.instrument, response.instrument_version)
    if instrument is not None and instrument.report_sections:
        data["section_scores"] = list(response.answers)
    return data


def response_candidate(patient: Patient, cleaned: dict[str, Any]) -> QuestionnaireResponse:
    return QuestionnaireResponse(
        id=cleaned["id"],
        patient=patient,
        instrument=cleaned["instrument"],
        instrument_version=cleaned["instrument_version"],
        answers=cleaned["answers"],
        score=cleaned["score"],
        occurred_at=cleaned["occurred_at"],
        timezone=cleaned["timezone"],
        prompt_id=cleaned.get("prompt_id"),
        create_digest=response_digest(cleaned, patient_id=patient.id),
    )


@transaction.atomic
def questionnaire_responses_record(
    *, patient: Patient, items: list[dict[str, Any]]
) -> list[Outcome[QuestionnaireResponse]]:
    """Store a batch of the patient's completed questionnaires, each cleaned by
    ``validate_response``: one outcome per item, in order, with the same rules as
    ``diary.entries.services.entries_log``; one ``diary.questionnaire.completed`` per created one.
    """
    now = timezone.now()
    taken = prompt_ids_of_others(patient.id, (item.get("prompt_id") for item in items))
    accepted: list[QuestionnaireResponse] = []
    outcomes: list[Outcome[QuestionnaireResponse] | None] = []
    for item in items:
        if item.get("prompt_id") in taken:
            outcomes.append(
                Outcome(item["id"], "invalid", errors=[error("prompt_id", PROMPT_TAKEN)])
            )
        else:
            accepted.append(response_candidate(patient, item))
            outcomes.append(None)
    created = iter(create_idempotent(QuestionnaireResponse, accepted, now=now))
    result = [outcome if outcome is not None else next(created) for outcome in outcomes]
    for outcome in result:
        if outcome.status == "created" and outcome.obj is not None:
            event_publish(
                type=EVENT_COMPLETED,
                subject=patient.id,
                data=response_event_data(outcome.obj, clinic_id=patient.clinic_id),
            )
    return result


def questionnaire_response_record(
    *, patient: Patient, values: dict[str, Any]
) -> Written[QuestionnaireResponse]:
    """Store one completed questionnaire; see ``entry_log`` for repeats and conflicts."""
    outcome = questionnaire_responses_record(patient=patient, items=[values])[0]
    return written_or_raise(outcome, "questionnaire response")
