"""Injections: recorded by clinicians (verified) or reported by patients (until verified),
grouped into courses and numbered within them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from helpers import (
    INJECTIONS,
    World,
    ids,
    injection_body,
    injection_url,
    is_problem,
    iso,
    patient_url,
    record_injection,
)

from diary.injections.models import Injection
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _at(days_ago: float) -> str:
    return iso(datetime.now(tz=UTC) - days_ago * DAY)


def test_a_clinician_records_a_verified_injection_and_reminders_hear_of_it(world: World) -> None:
    injection = record_injection(world.clinician, world.patient_a)
    assert injection["patient_id"] == str(world.patient_a.id)
    assert injection["verified"] is True
    assert injection["verified_by"] == str(world.clinician.id)
    assert injection["recorded_by"] == str(world.clinician.id)
    assert injection["recorded_by_role"] == "clinician"
    assert injection["number_in_course"] == 1
    (event,) = published_envelopes("diary.injection.recorded")
    data = event["data"]
    assert data["injection_id"] == injection["id"]
    assert data["clinic_id"] == str(world.clinic_id)
    assert data["course_id"] == injection["course_id"]
    assert data["solution"] == "dextrose_25"
    assert data["site"] == "sij_intra_articular"
    assert data["guidance"] == "fluoroscopy"
    assert data["protocol"] == "kim2010_intra_articular_sij"
    assert data["diagnosis"] == "sij_dysfunction"
    assert data["co_treatments"] == ["physiotherapy", "sij_belt"]


def test_a_patient_reports_an_injection_which_stays_unverified_until_a_clinician_verifies_it(
    world: World,
) -> None:
    response = world.patient_a.client().post(
        INJECTIONS, {"performed_at": _at(1), "site": "iliolumbar"}, format="json"
    )
    assert response.status_code == 201
    reported = response.json()
    assert reported["verified"] is False
    assert reported["recorded_by_role"] == "patient"
    assert reported["solution"] is None
    verified = world.clinician.client().post(injection_url(reported["id"]) + "verify/")
    assert verified.status_code == 200
    assert verified.json()["verified"] is True
    assert verified.json()["verified_by"] == str(world.clinician.id)
    assert verified.json()["version"] == 2
    assert verified.json()["server_seq"] > reported["server_seq"]
    again = world.clinician.client().post(injection_url(reported["id"]) + "verify/")
    assert again.json()["version"] == 2


def test_mass_assignment_of_patient_recorder_and_verification_is_ignored(world: World) -> None:
    body = injection_body(
        patient_id=str(world.patient_b.id),
        clinic_id=str(world.other_clinic_id),
        recorded_by=str(world.clinician.id),
        recorded_by_role="clinician",
        verified=True,
        verified_by=str(world.clinician.id),
        number_in_course=7,
        server_seq=10**12,
    )
    response = world.patient_a.client().post(INJECTIONS, body, format="json")
    assert response.status_code == 201
    reported = response.json()
    assert reported["patient_id"] == str(world.patient_a.id)
    assert reported["recorded_by"] == str(world.patient_a.id)
    assert reported["recorded_by_role"] == "patient"
    assert reported["verified"] is False
    assert reported["verified_by"] is None
    assert reported["number_in_course"] == 1
    stored = Injection.objects.get(pk=reported["id"])
    assert (stored.patient_id, stored.verified) == (world.patient_a.id, False)
    assert stored.server_seq < 10**12
    assert ids(world.patient_b.client().get(INJECTIONS)) == []


def test_injections_join_the_open_course_and_are_numbered(world: World) -> None:
    first = record_injection(world.clinician, world.patient_a, performed_at=_at(28))
    second = record_injection(world.clinician, world.patient_a, performed_at=_at(14))
    third = record_injection(world.clinician, world.patient_a, performed_at=_at(0.1))
    assert first["course_id"] == second["course_id"] == third["course_id"]
    assert [first["number_in_course"], second["number_in_course"], third["number_in_course"]] == [
        1,
        2,
        3,
    ]


def test_a_long_gap_starts_a_new_course(world: World) -> None:
    first = record_injection(world.clinician, world.patient_a, performed_at=_at(200))
    later = record_injection(world.clinician, world.patient_a, performed_at=_at(1))
    assert later["course_id"] != first["course_id"]
    assert later["number_in_course"] == 1


def test_a_named_course_is_kept_and_may_start_a_new_one(world: World) -> None:
    record_injection(world.clinician, world.patient_a, performed_at=_at(10))
    new_course = str(uuid.uuid4())
    started = record_injection(
        world.clinician, world.patient_a, performed_at=_at(5), course_id=new_course
    )
    assert started["course_id"] == new_course
    assert started["number_in_course"] == 1


def test_another_patients_course_cannot_be_joined(world: World) -> None:
    theirs = record_injection(world.clinician, world.patient_b)
    response = world.clinician.client().post(
        patient_url(world.patient_a.id, "injections"),
        injection_body(course_id=theirs["course_id"]),
        format="json",
    )
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"][0]["field"] == "course_id"


def test_an_injection_recorded_late_is_numbered_in_its_place_and_moves_later_ones(
    world: World,
) -> None:
    second = record_injection(world.clinician, world.patient_a, performed_at=_at(10))
    third = record_injection(world.clinician, world.patient_a, performed_at=_at(3))
    first = record_injection(world.clinician, world.patient_a, performed_at=_at(20))
    assert first["course_id"] == second["course_id"]
    assert first["number_in_course"] == 1
    numbers = {
        i.id: (i.number_in_course, i.server_seq)
        for i in Injection.objects.filter(course_id=first["course_id"])
    }
    assert numbers[uuid.UUID(second["id"])][0] == 2
    assert numbers[uuid.UUID(third["id"])][0] == 3
    # Renumbered rows take new sequence numbers so that syncing clients see the change.
    assert numbers[uuid.UUID(second["id"])][1] > first["server_seq"]


def test_deleting_an_injection_renumbers_the_rest_of_its_course(world: World) -> None:
    first = record_injection(world.clinician, world.patient_a, performed_at=_at(20))
    second = record_injection(world.clinician, world.patient_a, performed_at=_at(10))
    world.clinician.client().delete(injection_url(first["id"]))
    assert Injection.objects.get(pk=second["id"]).number_in_course == 1


def test_the_same_injection_sent_again_with_its_id_is_stored_once(world: World) -> None:
    body = injection_body(id=str(uuid.uuid4()))
    client = world.patient_a.client()
    assert client.post(INJECTIONS, body, format="json").status_code == 201
    again = client.post(INJECTIONS, body, format="json")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    conflict = client.post(INJECTIONS, {**body, "site": "facet"}, format="json")
    assert is_problem(conflict, 409, "id-conflict")
    assert Injection.objects.count() == 1
    assert len(published_envelopes("diary.injection.recorded")) == 1


def test_a_concentration_belongs_to_dextrose_only(world: World) -> None:
    response = world.clinician.client().post(
        patient_url(world.patient_a.id, "injections"),
        injection_body(solution="prp", dextrose_percent=15),
        format="json",
    )
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"][0]["field"] == "dextrose_percent"


def test_a_clinician_cannot_record_for_a_patient_the_diary_does_not_know(world: World) -> None:
    response = world.clinician.client().post(
        patient_url(uuid.uuid4(), "injections"), injection_body(), format="json"
    )
    assert response.status_code == 404
    assert not Injection.objects.exists()


def test_injections_are_listed_by_when_they_were_given_with_filters(world: World) -> None:
    late = record_injection(world.clinician, world.patient_a, performed_at=_at(2))
    early = record_injection(world.clinician, world.patient_a, performed_at=_at(30))
    other = record_injection(world.clinician, world.patient_b, performed_at=_at(5))
    client = world.clinician.client()
    assert ids(client.get(INJECTIONS)) == [early["id"], other["id"], late["id"]]
    assert ids(client.get(INJECTIONS, {"patient": str(world.patient_a.id)})) == [
        early["id"],
        late["id"],
    ]
    assert ids(client.get(INJECTIONS, {"performed_after": _at(10)})) == [other["id"], late["id"]]
