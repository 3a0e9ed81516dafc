"""Writes of questionnaire responses: created once each (idempotently), with their event."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from diary.common.creation import Candidate, Kind, Writer, log_one
from diary.common.idempotency import Written, canonical_digest
from diary.patients.errors import PatientNotEnrolled
from diary.patients.models import Patient
from diary.patients.services import patient_for_write
from diary.questionnaires.instruments import instrument_get
from diary.questionnaires.models import QuestionnaireResponse
from diary.questionnaires.validation import CLIENT_FIELDS
from shared.auth.principal import TokenUser
from shared.events.catalogue import utc_isoformat

EVENT_COMPLETED = "diary.questionnaire.completed"


def response_digest(cleaned: dict[str, Any], *, patient_id: uuid.UUID) -> str:
    """The fingerprint of a create: its client-supplied fields, cleaned, and its patient."""
    return canonical_digest(cleaned, CLIENT_FIELDS, owner=patient_id)


def _event_data(
    response_id: uuid.UUID, patient_id: str, clinic_id: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    prompt_id = values["prompt_id"]
    data: dict[str, Any] = {
        "response_id": str(response_id),
        "patient_id": patient_id,
        "clinic_id": clinic_id,
        "instrument": values["instrument"],
        "completed_at": utc_isoformat(values["occurred_at"]),
        "score": values["score"],
        "prompt_id": str(prompt_id) if prompt_id else None,
    }
    instrument = instrument_get(values["instrument"], values["instrument_version"])
    if instrument is not None and instrument.report_sections:
        data["section_scores"] = list(values["answers"])
    return data


# A response's fields besides its id and patient, as a create stores them.
_FIELDS = (
    "instrument",
    "instrument_version",
    "answers",
    "score",
    "occurred_at",
    "timezone",
    "prompt_id",
)


def response_event_data(response: QuestionnaireResponse, *, clinic_id: uuid.UUID) -> dict[str, Any]:
    values = {name: getattr(response, name) for name in _FIELDS}
    return _event_data(response.id, str(response.patient_id), str(clinic_id), values)


def response_candidates(items: Sequence[dict[str, Any]], patient_id: uuid.UUID) -> list[Candidate]:
    """Completed questionnaires cleaned by ``validate_response`` as rows to insert."""
    return [
        Candidate(
            cleaned["id"],
            response_digest(cleaned, patient_id=patient_id),
            {name: cleaned.get(name) for name in _FIELDS},
        )
        for cleaned in items
    ]


def responses_events_data(
    candidates: Sequence[Candidate], patient_id: uuid.UUID, clinic_id: uuid.UUID
) -> list[dict[str, Any]]:
    patient, clinic = str(patient_id), str(clinic_id)
    return [
        _event_data(candidate.pk, patient, clinic, candidate.values) for candidate in candidates
    ]


RESPONSE: Kind[QuestionnaireResponse] = Kind(
    model=QuestionnaireResponse,
    what="questionnaire response",
    candidates=response_candidates,
    event_type=EVENT_COMPLETED,
    events_data=responses_events_data,
)


def questionnaire_response_create(
    *, user: TokenUser, values: dict[str, Any]
) -> Written[QuestionnaireResponse]:
    """The patient's completed questionnaire (cleaned by ``validate_response``), in one
    transaction with its event; repeats, conflicts and refusals as for
    ``diary.entries.services.entry_create``."""
    if user.clinic_id is None:
        raise PatientNotEnrolled()
    writer = Writer(
        user.id,
        user.clinic_id,
        lambda: patient_for_write(user=user, timezone_name=values["timezone"]),
    )
    return log_one(RESPONSE, values, writer=writer)


def questionnaire_response_record(
    *, patient: Patient, values: dict[str, Any]
) -> Written[QuestionnaireResponse]:
    """``questionnaire_response_create`` for a patient the diary knows."""
    writer = Writer(patient.id, patient.clinic_id, lambda: patient)
    return log_one(RESPONSE, values, writer=writer)
