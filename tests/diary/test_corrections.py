"""Corrections and deletions: against the version read, with a new place in the sequence and an
event naming what changed; deletion hides the row but keeps it."""

from __future__ import annotations

import pytest
from helpers import (
    ENTRIES,
    INJECTIONS,
    World,
    create_entry,
    entry_body,
    entry_url,
    ids,
    injection_url,
    is_problem,
    record_injection,
)

from diary.entries.models import PainEntry
from diary.injections.models import Injection
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db


def test_a_correction_without_a_version_is_refused(world: World) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(entry_url(entry["id"]), {"nrs_now": 3}, format="json")
    assert is_problem(response, 428, "precondition-required")
    assert PainEntry.objects.get(pk=entry["id"]).nrs_now == 6


def test_a_correction_of_a_stale_version_is_refused(world: World) -> None:
    entry = create_entry(world.patient_a)
    client = world.patient_a.client()
    url = entry_url(entry["id"])
    assert client.patch(url, {"nrs_now": 3}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    stale = client.patch(url, {"nrs_now": 4}, format="json", HTTP_IF_MATCH='"1"')
    assert is_problem(stale, 412, "precondition-failed")
    stale_in_body = client.patch(url, {"nrs_now": 4, "version": 1}, format="json")
    assert is_problem(stale_in_body, 412, "precondition-failed")
    assert PainEntry.objects.get(pk=entry["id"]).nrs_now == 3


def test_a_correction_raises_the_version_takes_a_new_sequence_number_and_says_what_changed(
    world: World,
) -> None:
    entry = create_entry(world.patient_a)
    client = world.patient_a.client()
    read = client.get(entry_url(entry["id"]))
    response = client.patch(
        entry_url(entry["id"]),
        {"nrs_now": 2, "medications": [{"name": "Naproxen 250 mg"}], "note": "Better today."},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )
    assert response.status_code == 200
    corrected = response.json()
    assert corrected["version"] == 2
    assert response["ETag"] == '"2"'
    assert corrected["server_seq"] > entry["server_seq"]
    assert corrected["nrs_now"] == 2
    assert corrected["nsaid"] is True
    assert corrected["note"] == "Better today."
    assert corrected["nrs_worst_24h"] == entry["nrs_worst_24h"]  # untouched
    (event,) = published_envelopes("diary.entry.corrected")
    assert sorted(event["data"]["changed"]) == ["nrs", "nsaid"]
    assert event["data"]["nrs"] == 2
    assert "Better today." not in str(event)


def test_a_version_in_the_body_is_accepted_in_place_of_if_match(world: World) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 1, "version": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_a_correction_that_changes_nothing_writes_nothing(world: World) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": entry["nrs_now"]}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert response.json()["server_seq"] == entry["server_seq"]
    assert published_envelopes("diary.entry.corrected") == []


def test_a_replacement_resets_what_it_leaves_out(world: World) -> None:
    entry = create_entry(world.patient_a)
    body = entry_body(nrs_now=4)
    for name in ("id", "nrs_worst_24h", "nrs_average_7d", "note", "side_effects"):
        body.pop(name)
    response = world.patient_a.client().put(
        entry_url(entry["id"]), body, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["nrs_now"] == 4
    assert replaced["nrs_worst_24h"] is None
    assert replaced["note"] == ""
    assert replaced["side_effects"] == []
    assert replaced["version"] == 2


def test_an_invalid_correction_changes_nothing(world: World) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 11}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert is_problem(response, 400, "validation-error")
    stored = PainEntry.objects.get(pk=entry["id"])
    assert (stored.nrs_now, stored.version) == (6, 1)


def test_a_deleted_entry_is_kept_but_hidden_and_announced(world: World) -> None:
    entry = create_entry(world.patient_a)
    client = world.patient_a.client()
    assert client.delete(entry_url(entry["id"]), HTTP_IF_MATCH='"1"').status_code == 204
    stored = PainEntry.objects.get(pk=entry["id"])
    assert stored.deleted_at is not None
    assert stored.deleted_by == world.patient_a.id
    assert stored.version == 2
    assert stored.server_seq > entry["server_seq"]
    assert stored.note == entry["note"]
    assert client.get(entry_url(entry["id"])).status_code == 404
    assert ids(client.get(ENTRIES)) == []
    assert ids(world.clinician.client().get(ENTRIES)) == []
    (event,) = published_envelopes("diary.entry.deleted")
    assert event["data"] == {
        "entry_id": entry["id"],
        "patient_id": str(world.patient_a.id),
        "clinic_id": str(world.clinic_id),
    }
    again = client.delete(entry_url(entry["id"]))
    assert again.status_code == 404
    assert len(published_envelopes("diary.entry.deleted")) == 1


def test_a_deletion_with_a_stale_version_is_refused(world: World) -> None:
    entry = create_entry(world.patient_a)
    client = world.patient_a.client()
    client.patch(entry_url(entry["id"]), {"nrs_now": 1}, format="json", HTTP_IF_MATCH='"1"')
    response = client.delete(entry_url(entry["id"]), HTTP_IF_MATCH='"1"')
    assert is_problem(response, 412, "precondition-failed")
    assert PainEntry.objects.get(pk=entry["id"]).deleted_at is None


def test_an_injection_correction_is_versioned_and_announced(world: World) -> None:
    injection = record_injection(world.clinician, world.patient_a)
    client = world.clinician.client()
    url = injection_url(injection["id"])
    assert is_problem(client.patch(url, {"site": "iliolumbar"}, format="json"), 428)
    response = client.patch(
        url, {"site": "iliolumbar", "anaesthetic": "none"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    corrected = response.json()
    assert corrected["version"] == 2
    assert corrected["server_seq"] > injection["server_seq"]
    stale = client.patch(url, {"site": "facet"}, format="json", HTTP_IF_MATCH='"1"')
    assert is_problem(stale, 412)
    (event,) = published_envelopes("diary.injection.corrected")
    assert event["data"]["changed"] == ["site"]
    assert event["data"]["site"] == "iliolumbar"


def test_changing_the_solution_away_from_dextrose_drops_the_concentration(world: World) -> None:
    injection = record_injection(world.clinician, world.patient_a)
    response = world.clinician.client().patch(
        injection_url(injection["id"]), {"solution": "prp"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    assert response.json()["dextrose_percent"] is None
    (event,) = published_envelopes("diary.injection.corrected")
    assert event["data"]["solution"] == "prp"
    assert event["data"]["changed"] == ["solution"]


def test_a_deleted_injection_is_kept_hidden_and_announced(world: World) -> None:
    injection = record_injection(world.clinician, world.patient_a)
    client = world.clinician.client()
    assert client.delete(injection_url(injection["id"])).status_code == 204
    stored = Injection.objects.get(pk=injection["id"])
    assert stored.deleted_at is not None
    assert stored.deleted_by == world.clinician.id
    assert stored.server_seq > injection["server_seq"]
    assert client.get(injection_url(injection["id"])).status_code == 404
    assert ids(world.patient_a.client().get(INJECTIONS)) == []
    (event,) = published_envelopes("diary.injection.deleted")
    assert event["data"]["course_id"] == injection["course_id"]
