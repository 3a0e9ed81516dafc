"""Pain entries: logging, repeats of the same create, ordering, time, derived marks, prompts."""

from __future__ import annotations

import uuid

import pytest
import time_machine
from helpers import (
    ENTRIES,
    Actor,
    World,
    create_entry,
    entry_body,
    entry_url,
    hours_ago,
    ids,
    is_problem,
    iso,
    patient_actor,
)
from pytest_django.fixtures import Settings

from diary.entries.models import PainEntry
from diary.patients.models import Patient
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db


def test_a_patient_logs_an_entry_and_reads_it_back(world: World) -> None:
    body = entry_body()
    client = world.patient_a.client()
    created = client.post(ENTRIES, body, format="json")
    assert created.status_code == 201
    assert created["Location"].endswith(f"/entries/{body['id']}/")
    read = client.get(entry_url(body["id"]))
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read["ETag"] == '"1"'
    entry = read.json()
    assert entry["patient_id"] == str(world.patient_a.id)
    assert entry["nrs_now"] == 6
    assert entry["note"] == body["note"]
    assert entry["medications"] == [{"name": "Paracetamol", "dose": "1 g", "nsaid": False}]
    assert entry["nsaid"] is False
    assert entry["red_flag"] is False
    assert entry["version"] == 1


def test_sending_the_same_entry_again_returns_the_stored_one_without_a_second_row(
    world: World,
) -> None:
    body = entry_body()
    client = world.patient_a.client()
    first = client.post(ENTRIES, body, format="json")
    again = client.post(ENTRIES, body, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PainEntry.objects.filter(pk=body["id"]).count() == 1
    assert len(published_envelopes("diary.entry.logged")) == 1


def test_the_same_instant_in_another_offset_is_the_same_entry(world: World) -> None:
    body = entry_body(occurred_at="2026-01-10T09:30:00+00:00")
    with time_machine.travel("2026-01-11T12:00:00Z"):
        client = world.patient_a.client()
        assert client.post(ENTRIES, body, format="json").status_code == 201
        shifted = {**body, "occurred_at": "2026-01-10T10:30:00+01:00"}
        assert client.post(ENTRIES, shifted, format="json").status_code == 200


def test_the_same_id_with_different_content_is_a_conflict(world: World) -> None:
    body = entry_body()
    client = world.patient_a.client()
    assert client.post(ENTRIES, body, format="json").status_code == 201
    response = client.post(ENTRIES, {**body, "nrs_now": 2}, format="json")
    assert is_problem(response, 409, "id-conflict")
    assert body["note"] not in response.content.decode()
    assert PainEntry.objects.get(pk=body["id"]).nrs_now == 6


def test_another_patients_entry_id_is_a_conflict_that_reveals_nothing(world: World) -> None:
    body = entry_body()
    assert world.patient_a.client().post(ENTRIES, body, format="json").status_code == 201
    response = world.patient_b.client().post(ENTRIES, body, format="json")
    assert is_problem(response, 409, "id-conflict")
    text = response.content.decode()
    assert body["note"] not in text
    assert str(world.patient_a.id) not in text
    assert PainEntry.objects.get(pk=body["id"]).patient_id == world.patient_a.id


def test_a_deleted_entry_sent_again_is_gone_not_revived(world: World) -> None:
    body = entry_body()
    client = world.patient_a.client()
    assert client.post(ENTRIES, body, format="json").status_code == 201
    assert client.delete(entry_url(body["id"])).status_code == 204
    response = client.post(ENTRIES, body, format="json")
    assert is_problem(response, 410, "deleted")
    assert client.get(entry_url(body["id"])).status_code == 404


def test_mass_assignment_of_patient_clinic_and_server_fields_is_ignored(world: World) -> None:
    body = entry_body(
        patient_id=str(world.patient_b.id),
        clinic_id=str(world.other_clinic_id),
        nsaid=True,
        red_flag=True,
        server_seq=10**12,
        version=7,
        received_at="2001-01-01T00:00:00Z",
    )
    response = world.patient_a.client().post(ENTRIES, body, format="json")
    assert response.status_code == 201
    entry = response.json()
    assert entry["patient_id"] == str(world.patient_a.id)
    assert entry["nsaid"] is False
    assert entry["red_flag"] is False
    assert entry["version"] == 1
    assert entry["server_seq"] < 10**12
    assert not entry["received_at"].startswith("2001")
    stored = PainEntry.objects.get(pk=body["id"])
    assert stored.server_seq == entry["server_seq"]
    assert stored.patient_id == world.patient_a.id
    assert stored.patient.clinic_id == world.clinic_id
    (event,) = published_envelopes("diary.entry.logged")
    assert event["data"]["clinic_id"] == str(world.clinic_id)
    assert event["subject"] == str(world.patient_a.id)
    assert world.patient_b.client().get(entry_url(body["id"])).status_code == 404


def test_late_and_out_of_order_entries_are_listed_in_the_order_they_happened(
    world: World,
) -> None:
    client = world.patient_a.client()
    # Sent in this order after days offline: the newest first, then two older ones.
    newest = create_entry(world.patient_a, occurred_at=iso(hours_ago(1)))["id"]
    oldest = create_entry(world.patient_a, occurred_at=iso(hours_ago(24 * 9)))["id"]
    middle = create_entry(world.patient_a, occurred_at=iso(hours_ago(24 * 3)))["id"]
    assert ids(client.get(ENTRIES)) == [oldest, middle, newest]
    window = {"occurred_after": iso(hours_ago(24 * 4)), "occurred_before": iso(hours_ago(2))}
    assert ids(client.get(ENTRIES, window)) == [middle]


def test_entries_at_the_same_instant_are_listed_in_the_order_they_were_received(
    world: World,
) -> None:
    moment = iso(hours_ago(5))
    first = create_entry(world.patient_a, occurred_at=moment)["id"]
    second = create_entry(world.patient_a, occurred_at=moment)["id"]
    assert ids(world.patient_a.client().get(ENTRIES)) == [first, second]


def test_an_entry_from_the_future_beyond_the_clock_skew_tolerance_is_refused(
    world: World,
) -> None:
    with time_machine.travel("2026-05-01T12:00:00Z", tick=False):
        client = world.patient_a.client()
        too_far = entry_body(occurred_at="2026-05-01T12:10:01Z")
        response = client.post(ENTRIES, too_far, format="json")
        assert is_problem(response, 400, "validation-error")
        assert response.json()["errors"] == [
            {"field": "occurred_at", "message": "Must not be in the future."}
        ]
        # A phone clock a few minutes fast is tolerated.
        slightly_fast = entry_body(occurred_at="2026-05-01T12:09:00Z")
        assert client.post(ENTRIES, slightly_fast, format="json").status_code == 201
    assert not PainEntry.objects.filter(pk=too_far["id"]).exists()


def test_an_entry_from_weeks_ago_is_accepted(world: World) -> None:
    body = entry_body(occurred_at=iso(hours_ago(24 * 40)))
    assert world.patient_a.client().post(ENTRIES, body, format="json").status_code == 201


def test_nsaids_and_red_flags_are_marked_on_the_entry(world: World) -> None:
    entry = create_entry(
        world.patient_a,
        medications=[
            {"name": "paracetamol"},
            {"name": "Nurofen 200mg", "dose": "2 tablets"},
        ],
        side_effects=["bruising", "fever"],
    )
    assert [m["nsaid"] for m in entry["medications"]] == [False, True]
    assert entry["nsaid"] is True
    assert entry["red_flag"] is True
    (event,) = published_envelopes("diary.entry.logged")
    assert event["data"]["nsaid"] is True
    assert event["data"]["red_flag"] is True
    assert event["data"]["side_effects"] == ["bruising", "fever"]


def test_no_free_text_travels_in_the_event(world: World) -> None:
    body = entry_body(medications=[{"name": "Voltarol 50 mg", "dose": "one"}])
    create_entry(world.patient_a, **body)
    (event,) = published_envelopes("diary.entry.logged")
    text = str(event)
    assert body["note"] not in text
    assert "Voltarol" not in text
    assert event["data"]["nrs"] == 6
    assert event["data"]["recorded_at"].endswith("Z")


def test_an_entry_may_answer_a_prompt_that_no_other_patient_answered(world: World) -> None:
    prompt_id = str(uuid.uuid4())
    first = create_entry(world.patient_a, prompt_id=prompt_id)
    # The same patient may answer their prompt twice (e.g. an entry and a questionnaire).
    create_entry(world.patient_a, prompt_id=prompt_id)
    assert first["prompt_id"] == prompt_id
    response = world.patient_b.client().post(
        ENTRIES, entry_body(prompt_id=prompt_id), format="json"
    )
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"] == [
        {"field": "prompt_id", "message": "This prompt belongs to another patient."}
    ]


def test_a_patient_unknown_to_the_diary_is_taken_from_their_token(db: None) -> None:
    clinic_id = uuid.uuid4()
    newcomer = patient_actor(clinic_id, enrolled=False)
    create_entry(newcomer, timezone="America/New_York")
    patient = Patient.objects.get(pk=newcomer.id)
    assert patient.clinic_id == clinic_id
    assert patient.timezone == "America/New_York"


def test_a_patient_token_without_a_clinic_cannot_write(db: None) -> None:
    orphan = Actor(uuid.uuid4(), ("patient",), None)
    response = orphan.client().post(ENTRIES, entry_body(), format="json")
    assert is_problem(response, 403, "not-enrolled")
    assert not PainEntry.objects.exists()


def test_entries_are_paginated(world: World) -> None:
    for hours in range(3):
        create_entry(world.patient_a, occurred_at=iso(hours_ago(hours + 1)))
    page = world.patient_a.client().get(ENTRIES, {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]


def test_the_clock_skew_tolerance_is_a_setting(world: World, settings: Settings) -> None:
    settings.DIARY_CLOCK_SKEW_SECONDS = 3600
    body = entry_body(occurred_at=iso(hours_ago(-0.5)))
    assert world.patient_a.client().post(ENTRIES, body, format="json").status_code == 201
    settings.DIARY_CLOCK_SKEW_SECONDS = 0
    body = entry_body(occurred_at=iso(hours_ago(-0.01)))
    response = world.patient_a.client().post(ENTRIES, body, format="json")
    assert is_problem(response, 400, "validation-error")
