"""Clinicians see each of their own patients' next planned prompt in one call (the dashboard)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from helpers import API, client, make_patient, make_prompt

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC, OTHER_CLINIC = uuid.uuid4(), uuid.uuid4()


@time_machine.travel(NOW, tick=False)
def test_next_prompt_is_the_earliest_planned_one_of_each_own_patient() -> None:
    patient = make_patient(CLINIC)
    nothing_planned = make_patient(CLINIC)
    foreign = make_patient(OTHER_CLINIC)
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW - timedelta(days=2), status="answered")
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(days=9), instrument="odi")
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(days=3))
    make_prompt(nothing_planned, clinic_id=CLINIC, due_at=NOW - timedelta(days=1), status="sent")
    make_prompt(foreign, clinic_id=OTHER_CLINIC, due_at=NOW + timedelta(hours=1))

    response = client(roles=("clinician",), clinic_id=CLINIC).get(API + "patients/next-prompts/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "patient_id": str(patient),
            "next_prompt_at": "2026-06-04T08:00:00Z",
            "kind": "flare",
            "instrument": "nrs",
        }
    ]


@time_machine.travel(NOW, tick=False)
def test_next_prompt_of_one_patient_and_of_another_clinics_patient() -> None:
    patient, other = make_patient(CLINIC), make_patient(CLINIC)
    foreign = make_patient(OTHER_CLINIC)
    for someone, clinic in ((patient, CLINIC), (other, CLINIC), (foreign, OTHER_CLINIC)):
        make_prompt(someone, clinic_id=clinic, due_at=NOW + timedelta(days=2))
    api = client(roles=("clinician",), clinic_id=CLINIC)

    own = api.get(API + f"patients/next-prompts/?patient={patient}").json()["results"]
    theirs = api.get(API + f"patients/next-prompts/?patient={foreign}").json()["results"]
    bad = api.get(API + "patients/next-prompts/?patient=not-an-id")

    assert [row["patient_id"] for row in own] == [str(patient)]
    assert theirs == []
    assert bad.status_code == 400


def test_patients_cannot_list_next_prompts() -> None:
    patient = make_patient(CLINIC)
    response = client(user_id=patient, roles=("patient",), clinic_id=CLINIC).get(
        API + "patients/next-prompts/"
    )
    assert response.status_code == 403
