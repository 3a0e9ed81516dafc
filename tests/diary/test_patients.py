"""identity's events keep the diary's patients up to date: enrolment, moves, erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import (
    ENTRIES,
    INJECTIONS,
    Actor,
    World,
    create_entry,
    create_odi,
    entry_body,
    entry_url,
    ids,
    is_problem,
    patient_url,
    record_injection,
)

from diary.entries.models import PainEntry
from diary.injections.models import Injection
from diary.patients.models import Patient
from diary.questionnaires.models import QuestionnaireResponse
from shared.events.catalogue import utc_isoformat
from shared.events.services import event_handle
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _envelope(type: str, data: dict[str, Any], at: datetime = T0) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type,
        "version": 1,
        "occurred_at": utc_isoformat(at),
        "producer": "identity",
        "subject": data["patient_id"],
        "data": data,
    }


def _profile(
    patient_id: uuid.UUID, clinic_id: uuid.UUID, tz: str = "Europe/London"
) -> dict[str, Any]:
    return {
        "patient_id": str(patient_id),
        "clinic_id": str(clinic_id),
        "timezone": tz,
        "locale": "en-GB",
        "sex": "female",
        "birth_year": 1971,
    }


def enrolled(
    patient_id: uuid.UUID, clinic_id: uuid.UUID, at: datetime = T0, **kw: Any
) -> dict[str, Any]:
    data = {**_profile(patient_id, clinic_id, **kw), "enrolled_at": utc_isoformat(at)}
    return _envelope("identity.patient.enrolled", data, at)


def updated(
    patient_id: uuid.UUID, clinic_id: uuid.UUID, at: datetime, changed: list[str], **kw: Any
) -> dict[str, Any]:
    data = {**_profile(patient_id, clinic_id, **kw), "changed": changed}
    return _envelope("identity.patient.updated", data, at)


def erased(patient_id: uuid.UUID, clinic_id: uuid.UUID, at: datetime = T0) -> dict[str, Any]:
    data = {"patient_id": str(patient_id), "clinic_id": str(clinic_id)}
    return _envelope("identity.patient.erased", data, at)


def test_an_enrolment_makes_the_patient_known_to_the_diary() -> None:
    patient_id, clinic_id = uuid.uuid4(), uuid.uuid4()
    assert event_handle(envelope=enrolled(patient_id, clinic_id, tz="Australia/Sydney"))
    patient = Patient.objects.get(pk=patient_id)
    assert (patient.clinic_id, patient.timezone, patient.is_erased) == (
        clinic_id,
        "Australia/Sydney",
        False,
    )


def test_an_event_delivered_twice_is_handled_once() -> None:
    envelope = enrolled(uuid.uuid4(), uuid.uuid4())
    assert event_handle(envelope=envelope) is True
    assert event_handle(envelope=envelope) is False


def test_a_move_to_another_clinic_moves_who_may_read_the_diary(world: World) -> None:
    entry = create_entry(world.patient_a)
    event_handle(
        envelope=updated(
            world.patient_a.id,
            world.other_clinic_id,
            T0 + timedelta(days=1),
            ["clinic_id", "timezone"],
            tz="Europe/Berlin",
        )
    )
    patient = Patient.objects.get(pk=world.patient_a.id)
    assert (patient.clinic_id, patient.timezone) == (world.other_clinic_id, "Europe/Berlin")
    assert world.clinician.client().get(entry_url(entry["id"])).status_code == 404
    assert world.other_clinician.client().get(entry_url(entry["id"])).status_code == 200
    injection = world.other_clinician.client().post(
        patient_url(world.patient_a.id, "injections"),
        {"performed_at": "2026-01-04T10:00:00Z"},
        format="json",
    )
    assert injection.status_code == 201


def test_an_older_profile_arriving_late_does_not_undo_a_newer_one() -> None:
    patient_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event_handle(envelope=updated(patient_id, second, T0 + timedelta(days=2), ["clinic_id"]))
    event_handle(envelope=enrolled(patient_id, first, T0))
    assert Patient.objects.get(pk=patient_id).clinic_id == second


def test_an_enrolment_after_a_write_from_the_token_keeps_identitys_profile(db: None) -> None:
    clinic_id = uuid.uuid4()
    newcomer = Actor(uuid.uuid4(), ("patient",), clinic_id)
    create_entry(newcomer, timezone="Europe/Paris")
    event_handle(envelope=enrolled(newcomer.id, clinic_id, tz="Europe/Madrid"))
    assert Patient.objects.get(pk=newcomer.id).timezone == "Europe/Madrid"
    assert PainEntry.objects.filter(patient_id=newcomer.id).count() == 1


def test_erasure_forgets_the_patients_diary_and_their_pending_events(world: World) -> None:
    entry = create_entry(world.patient_a)
    record_injection(world.clinician, world.patient_a)
    create_odi(world.patient_a, [1] * 10)
    kept = create_entry(world.patient_b)
    event_handle(envelope=erased(world.patient_a.id, world.clinic_id))
    assert not PainEntry.objects.filter(patient_id=world.patient_a.id).exists()
    assert not Injection.objects.filter(patient_id=world.patient_a.id).exists()
    assert not QuestionnaireResponse.objects.filter(patient_id=world.patient_a.id).exists()
    assert not OutboxEvent.objects.filter(subject=str(world.patient_a.id)).exists()
    patient = Patient.objects.get(pk=world.patient_a.id)
    assert patient.is_erased
    assert patient.erased_at is not None
    assert PainEntry.objects.filter(pk=kept["id"]).exists()
    assert world.clinician.client().get(entry_url(entry["id"])).status_code == 404
    assert ids(world.clinician.client().get(ENTRIES)) == [kept["id"]]
    assert (
        world.clinician.client().get(patient_url(world.patient_a.id, "entries")).status_code == 404
    )


def test_an_erased_patient_cannot_write_again_with_a_token_still_valid(world: World) -> None:
    event_handle(envelope=erased(world.patient_a.id, world.clinic_id))
    client = world.patient_a.client()
    response = client.post(ENTRIES, entry_body(), format="json")
    assert is_problem(response, 403, "patient-erased")
    assert is_problem(
        client.post(INJECTIONS, {"performed_at": "2026-01-01T00:00:00Z"}, format="json"), 403
    )
    assert not PainEntry.objects.exists()


def test_a_late_enrolment_does_not_bring_an_erased_patient_back(db: None) -> None:
    patient_id, clinic_id = uuid.uuid4(), uuid.uuid4()
    event_handle(envelope=erased(patient_id, clinic_id, T0 + timedelta(days=3)))
    event_handle(envelope=enrolled(patient_id, clinic_id, T0))
    assert Patient.objects.get(pk=patient_id).is_erased
