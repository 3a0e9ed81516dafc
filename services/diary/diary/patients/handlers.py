"""identity's events about patients keep the diary's copy of them up to date."""

from __future__ import annotations

import uuid
from datetime import datetime

from diary.patients.services import patient_erase, patient_profile_apply
from shared.events.catalogue import Envelope
from shared.events.registry import event_handler


def _as_of(envelope: Envelope) -> datetime:
    return datetime.fromisoformat(envelope["occurred_at"])


@event_handler("identity.patient.enrolled", "identity.patient.updated")
def patient_profile_changed(envelope: Envelope) -> None:
    data = envelope["data"]
    patient_profile_apply(
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=uuid.UUID(data["clinic_id"]),
        timezone_name=data["timezone"],
        as_of=_as_of(envelope),
    )


@event_handler("identity.patient.erased")
def patient_erased(envelope: Envelope) -> None:
    data = envelope["data"]
    patient_erase(patient_id=uuid.UUID(data["patient_id"]), clinic_id=uuid.UUID(data["clinic_id"]))
