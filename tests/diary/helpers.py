"""Callers, request bodies and checks for the diary's API tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import PatientFactory
from rest_framework.test import APIClient

from diary.patients.models import Patient
from shared.testing.tokens import access_token

API = "/api/diary/v1/"
ENTRIES = API + "entries/"
INJECTIONS = API + "injections/"
QUESTIONNAIRES = API + "questionnaires/"


def entry_url(entry_id: object) -> str:
    return f"{ENTRIES}{entry_id}/"


def injection_url(injection_id: object) -> str:
    return f"{INJECTIONS}{injection_id}/"


def questionnaire_url(response_id: object) -> str:
    return f"{QUESTIONNAIRES}{response_id}/"


def patient_url(patient_id: object, resource: str) -> str:
    return f"{API}patients/{patient_id}/{resource}/"


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID
    roles: tuple[str, ...]
    clinic_id: uuid.UUID | None

    def client(self) -> APIClient:
        client = APIClient()
        token = access_token(self.id, roles=self.roles, clinic_id=self.clinic_id)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client


@dataclass(frozen=True)
class World:
    clinic_id: uuid.UUID
    other_clinic_id: uuid.UUID
    patient_a: Actor
    patient_b: Actor
    clinician: Actor
    other_clinician: Actor
    clinic_admin: Actor
    system_admin: Actor


def patient_actor(clinic_id: uuid.UUID, *, enrolled: bool = True) -> Actor:
    actor = Actor(uuid.uuid4(), ("patient",), clinic_id)
    if enrolled:
        PatientFactory(id=actor.id, clinic_id=clinic_id)
    return actor


def make_world() -> World:
    clinic_id, other_clinic_id = uuid.uuid4(), uuid.uuid4()
    return World(
        clinic_id=clinic_id,
        other_clinic_id=other_clinic_id,
        patient_a=patient_actor(clinic_id),
        patient_b=patient_actor(clinic_id),
        clinician=Actor(uuid.uuid4(), ("clinician",), clinic_id),
        other_clinician=Actor(uuid.uuid4(), ("clinician",), other_clinic_id),
        clinic_admin=Actor(uuid.uuid4(), ("clinic_admin",), clinic_id),
        system_admin=Actor(uuid.uuid4(), ("system_admin",), None),
    )


def iso(value: datetime) -> str:
    return value.isoformat()


def hours_ago(hours: float) -> datetime:
    return datetime.now(tz=UTC) - timedelta(hours=hours)


def entry_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "occurred_at": iso(hours_ago(1)),
        "timezone": "Europe/London",
        "nrs_now": 6,
        "nrs_worst_24h": 8,
        "nrs_average_7d": 5,
        "body_regions": ["lower_back_left", "sacroiliac_left"],
        "medications": [{"name": "Paracetamol", "dose": "1 g"}],
        "side_effects": ["soreness_at_site"],
        "co_treatments": ["physiotherapy"],
        "note": "Walked the dog, sore afterwards.",
    }
    body.update(overrides)
    return body


def injection_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "performed_at": iso(hours_ago(2)),
        "site": "sij_intra_articular",
        "laterality": "left",
        "solution": "dextrose",
        "dextrose_percent": 25,
        "anaesthetic": "lidocaine",
        "guidance": "fluoroscopy",
        "protocol": "kim2010_intra_articular_sij",
        "diagnosis": "sij_dysfunction",
        "co_treatments": ["physiotherapy", "sij_belt"],
    }
    body.update(overrides)
    return body


def odi_body(answers: list[int | None], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "instrument": "odi",
        "answers": answers,
        "occurred_at": iso(hours_ago(1)),
        "timezone": "Europe/London",
    }
    body.update(overrides)
    return body


def is_problem(response: Any, status: int, type_suffix: str | None = None) -> bool:
    if response.status_code != status:
        return False
    if response["Content-Type"] != "application/problem+json":
        return False
    body = response.json()
    if body.get("status") != status or not body.get("title"):
        return False
    return type_suffix is None or str(body.get("type", "")).endswith("/" + type_suffix)


def create_entry(actor: Actor, **overrides: Any) -> dict[str, Any]:
    response = actor.client().post(ENTRIES, entry_body(**overrides), format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def record_injection(clinician: Actor, patient: Actor, **overrides: Any) -> dict[str, Any]:
    response = clinician.client().post(
        patient_url(patient.id, "injections"), injection_body(**overrides), format="json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def create_odi(actor: Actor, answers: list[int | None], **overrides: Any) -> dict[str, Any]:
    response = actor.client().post(QUESTIONNAIRES, odi_body(answers, **overrides), format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def ids(response: Any) -> list[str]:
    return [item["id"] for item in response.json()["results"]]


def known_patient(patient_id: uuid.UUID) -> Patient:
    return Patient.objects.get(pk=patient_id)
