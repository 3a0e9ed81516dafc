"""Clinicians read adherence and prompt timelines of their own clinic's patients only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from helpers import API, client, is_problem, log_entry, make_patient, make_prompt, sweep

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC, OTHER_CLINIC = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def history(clock: time_machine.Traveller) -> dict[str, uuid.UUID]:
    """A patient who answered one of three sent prompts, and another clinic's patient."""
    patient = make_patient(CLINIC)
    idle = make_patient(CLINIC)
    foreign = make_patient(OTHER_CLINIC)
    prompts = [
        make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(days=d), window_hours=12)
        for d in range(3)
    ]
    make_prompt(foreign, clinic_id=OTHER_CLINIC, due_at=NOW)
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(days=30))
    for day in range(3):
        clock.move_to(NOW + timedelta(days=day))
        sweep(NOW + timedelta(days=day))
        if day == 1:
            log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(days=1, hours=1))
    clock.move_to(NOW + timedelta(days=3))
    sweep(NOW + timedelta(days=3))
    return {"patient": patient, "idle": idle, "foreign": foreign, "answered": prompts[1].id}


def clinician(clinic: uuid.UUID = CLINIC) -> object:
    return client(roles=("clinician",), clinic_id=clinic)


def test_adherence_counts_sent_answered_and_expired_prompts_per_patient(
    history: dict[str, uuid.UUID],
) -> None:
    response = clinician().get(API + "patients/adherence/")  # type: ignore[attr-defined]

    assert response.status_code == 200
    rows = {row["patient_id"]: row for row in response.json()["results"]}
    assert set(rows) == {str(history["patient"]), str(history["idle"])}
    assert rows[str(history["patient"])] == {
        "patient_id": str(history["patient"]),
        "prompts_sent": 3,
        "prompts_answered": 1,
        "prompts_expired": 2,
        "adherence": 0.3333,
        "last_answered_at": "2026-06-02T09:00:00Z",
    }
    assert rows[str(history["idle"])]["adherence"] is None


def test_adherence_of_one_patient_and_of_another_clinics_patient(
    history: dict[str, uuid.UUID],
) -> None:
    own = clinician().get(API + f"patients/{history['patient']}/adherence/")  # type: ignore[attr-defined]
    foreign = clinician().get(API + f"patients/{history['foreign']}/adherence/")  # type: ignore[attr-defined]
    unknown = clinician().get(API + f"patients/{uuid.uuid4()}/adherence/")  # type: ignore[attr-defined]

    assert own.json()["prompts_answered"] == 1
    assert is_problem(foreign, 404)
    assert is_problem(unknown, 404)


def test_the_timeline_shows_intended_sent_answered_and_expired_times(
    history: dict[str, uuid.UUID],
) -> None:
    response = clinician().get(API + f"patients/{history['patient']}/prompts/")  # type: ignore[attr-defined]

    rows = response.json()["results"]
    assert [row["status"] for row in rows] == ["expired", "answered", "expired", "pending"]
    answered = rows[1]
    assert answered["id"] == str(history["answered"])
    assert answered["intended_at"] == "2026-06-02T08:00:00Z"
    assert answered["sent_at"] == "2026-06-02T08:00:00Z"
    assert answered["answered_at"] == "2026-06-02T09:00:00Z"
    assert rows[0]["expired_at"] == "2026-06-01T20:00:00Z"
    assert rows[3]["sent_at"] is None
    assert rows[0]["local_time"] == "09:00"


def test_another_clinics_clinician_sees_none_of_it(history: dict[str, uuid.UUID]) -> None:
    other = clinician(OTHER_CLINIC)
    listed = other.get(API + "patients/adherence/").json()["results"]  # type: ignore[attr-defined]
    timeline = other.get(API + f"patients/{history['patient']}/prompts/")  # type: ignore[attr-defined]

    assert [row["patient_id"] for row in listed] == [str(history["foreign"])]
    assert is_problem(timeline, 404)


@pytest.mark.parametrize(
    "roles", [("patient",), ("clinic_admin",), ("system_admin",), ("service",)]
)
@pytest.mark.parametrize(
    "path", ["patients/adherence/", "patients/{p}/adherence/", "patients/{p}/prompts/"]
)
def test_clinician_endpoints_refuse_other_roles(
    history: dict[str, uuid.UUID], roles: tuple[str, ...], path: str
) -> None:
    caller = client(history["patient"], roles=roles, clinic_id=CLINIC)
    response = caller.get(API + path.format(p=history["patient"]))
    assert is_problem(response, 403)


def test_a_clinician_without_a_clinic_sees_nobody(history: dict[str, uuid.UUID]) -> None:
    response = client(roles=("clinician",)).get(API + "patients/adherence/")
    assert response.json()["results"] == []
