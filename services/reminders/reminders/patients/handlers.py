"""identity's and diary's events that keep reminders' copies of patients and injections."""

from __future__ import annotations

import uuid
from datetime import datetime

from reminders.patients import services
from shared.events.catalogue import Envelope
from shared.events.registry import event_handler


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


@event_handler("identity.patient.enrolled", "identity.patient.updated")
def on_patient_profile(envelope: Envelope) -> None:
    data = envelope["data"]
    services.patient_sync(
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=_uuid(data.get("clinic_id")),
        timezone_name=data["timezone"],
        locale=data.get("locale") or "",
    )


@event_handler("identity.patient.deactivated")
def on_patient_deactivated(envelope: Envelope) -> None:
    data = envelope["data"]
    services.patient_deactivate(
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=_uuid(data.get("clinic_id")),
        deactivated_at=_instant(data["deactivated_at"]),
    )


@event_handler("identity.patient.reactivated")
def on_patient_reactivated(envelope: Envelope) -> None:
    data = envelope["data"]
    services.patient_reactivate(
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=_uuid(data.get("clinic_id")),
        reactivated_at=_instant(data["reactivated_at"]),
    )


@event_handler("identity.patient.erased")
def on_patient_erased(envelope: Envelope) -> None:
    services.patient_erase(patient_id=uuid.UUID(envelope["data"]["patient_id"]))


@event_handler("diary.injection.recorded", "diary.injection.corrected")
def on_injection(envelope: Envelope) -> None:
    data = envelope["data"]
    services.injection_record(
        injection_id=uuid.UUID(data["injection_id"]),
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=uuid.UUID(data["clinic_id"]),
        course_id=uuid.UUID(data["course_id"]),
        injected_at=_instant(data["injected_at"]),
        protocol=data.get("protocol") or "",
    )


@event_handler("diary.injection.deleted")
def on_injection_deleted(envelope: Envelope) -> None:
    data = envelope["data"]
    services.injection_delete(
        injection_id=uuid.UUID(data["injection_id"]),
        patient_id=uuid.UUID(data["patient_id"]),
        clinic_id=uuid.UUID(data["clinic_id"]),
        course_id=uuid.UUID(data["course_id"]),
    )
