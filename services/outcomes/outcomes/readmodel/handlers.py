"""Events in: the read model is updated, the patient's flags are evaluated against the new state
in the same transaction, and the touched clinics' cached results are retired after commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from outcomes.analytics.cache import clinic_versions_bump_on_commit
from outcomes.flags.services import (
    flags_erase_patient,
    flags_evaluate_adherence,
    flags_evaluate_patient,
    flags_move_patient,
)
from outcomes.readmodel import services
from outcomes.readmodel.models import Patient
from shared.events.catalogue import Envelope
from shared.events.registry import event_handler


def _version(envelope: Envelope) -> datetime:
    return datetime.fromisoformat(envelope["occurred_at"])


def _after_change(patient_id: uuid.UUID, clinics: Iterable[uuid.UUID]) -> None:
    clinics = set(clinics)
    if not clinics:
        return  # nothing changed (an older version, or an erased patient)
    clinic_id = (
        Patient.objects.filter(patient_id=patient_id).values_list("clinic_id", flat=True).first()
    )
    if clinic_id is None:
        clinic_id = next(iter(clinics))
    flags_evaluate_patient(patient_id=patient_id, clinic_id=clinic_id)
    clinic_versions_bump_on_commit(clinics)


@event_handler("identity.patient.enrolled", "identity.patient.updated")
def patient_profile(envelope: Envelope) -> None:
    data = envelope["data"]
    patient_id = uuid.UUID(data["patient_id"])
    enrolled_at = data.get("enrolled_at")
    clinics = services.patient_profile_apply(
        patient_id=patient_id,
        clinic_id=uuid.UUID(data["clinic_id"]),
        timezone=data["timezone"],
        sex=data["sex"],
        birth_year=data["birth_year"],
        enrolled_at=datetime.fromisoformat(enrolled_at) if enrolled_at else None,
        version=_version(envelope),
    )
    if clinics:
        flags_move_patient(patient_id=patient_id, clinic_id=uuid.UUID(data["clinic_id"]))
    _after_change(patient_id, clinics)


@event_handler("identity.patient.erased")
def patient_erased(envelope: Envelope) -> None:
    patient_id = uuid.UUID(envelope["data"]["patient_id"])
    clinics = services.patient_erase(patient_id=patient_id, erased_at=_version(envelope))
    flags_erase_patient(patient_id=patient_id)
    clinics.add(uuid.UUID(envelope["data"]["clinic_id"]))
    clinic_versions_bump_on_commit(clinics)


@event_handler("diary.injection.recorded", "diary.injection.corrected")
def injection_recorded(envelope: Envelope) -> None:
    data = envelope["data"]
    clinics = services.injection_apply(data=data, version=_version(envelope))
    _after_change(uuid.UUID(data["patient_id"]), clinics)


@event_handler("diary.injection.deleted")
def injection_deleted(envelope: Envelope) -> None:
    data = envelope["data"]
    patient_id = uuid.UUID(data["patient_id"])
    clinics = services.injection_delete(
        injection_id=uuid.UUID(data["injection_id"]),
        patient_id=patient_id,
        clinic_id=uuid.UUID(data["clinic_id"]),
        course_id=uuid.UUID(data["course_id"]),
        version=_version(envelope),
    )
    _after_change(patient_id, clinics)


@event_handler("diary.entry.logged", "diary.entry.corrected")
def entry_logged(envelope: Envelope) -> None:
    data = envelope["data"]
    clinics = services.entry_apply(data=data, version=_version(envelope))
    _after_change(uuid.UUID(data["patient_id"]), clinics)


@event_handler("diary.entry.deleted")
def entry_deleted(envelope: Envelope) -> None:
    data = envelope["data"]
    patient_id = uuid.UUID(data["patient_id"])
    clinics = services.entry_delete(
        entry_id=uuid.UUID(data["entry_id"]),
        patient_id=patient_id,
        clinic_id=uuid.UUID(data["clinic_id"]),
        version=_version(envelope),
    )
    _after_change(patient_id, clinics)


@event_handler("diary.questionnaire.completed")
def questionnaire_completed(envelope: Envelope) -> None:
    data = envelope["data"]
    clinics = services.questionnaire_apply(data=data, version=_version(envelope))
    _after_change(uuid.UUID(data["patient_id"]), clinics)


@event_handler("reminders.prompt.sent", "reminders.prompt.answered", "reminders.prompt.expired")
def prompt_changed(envelope: Envelope) -> None:
    data = envelope["data"]
    clinics = services.prompt_apply(event_type=envelope["type"], data=data)
    # Prompts feed adherence only: its flag may change, the cohort analyses and other flags not.
    if clinics:
        patient_id = uuid.UUID(data["patient_id"])
        flags_evaluate_adherence(patient_id=patient_id, clinic_id=next(iter(clinics)))
