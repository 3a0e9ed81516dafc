"""One event per change, in the change's transaction, matching the catalogue; none otherwise."""

from __future__ import annotations

import pytest
from django.db import transaction
from helpers import (
    ENTRIES,
    QUESTIONNAIRES,
    World,
    create_entry,
    entry_body,
    entry_url,
    injection_url,
    known_patient,
    odi_body,
    record_injection,
)

from diary.entries.models import PainEntry
from diary.entries.services import entry_log
from diary.entries.validation import validate_entry
from shared.events.testing import published_envelopes
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_each_change_publishes_exactly_one_event_that_matches_the_catalogue(
    world: World,
) -> None:
    patient, clinician = world.patient_a.client(), world.clinician.client()
    entry = create_entry(world.patient_a)
    patient.patch(entry_url(entry["id"]), {"nrs_now": 2}, format="json", HTTP_IF_MATCH='"1"')
    patient.delete(entry_url(entry["id"]))
    injection = record_injection(world.clinician, world.patient_a)
    clinician.patch(
        injection_url(injection["id"]), {"site": "facet"}, format="json", HTTP_IF_MATCH='"1"'
    )
    clinician.delete(injection_url(injection["id"]))
    patient.post(QUESTIONNAIRES, odi_body([1] * 10), format="json")
    # published_envelopes validates every envelope against the catalogue.
    assert [e["type"] for e in published_envelopes()] == [
        "diary.entry.logged",
        "diary.entry.corrected",
        "diary.entry.deleted",
        "diary.injection.recorded",
        "diary.injection.corrected",
        "diary.injection.deleted",
        "diary.questionnaire.completed",
    ]
    assert all(e["subject"] == str(world.patient_a.id) for e in published_envelopes())


def test_refused_writes_publish_nothing(world: World) -> None:
    client = world.patient_a.client()
    body = entry_body()
    client.post(ENTRIES, {**body, "nrs_now": 99}, format="json")  # invalid
    client.post(ENTRIES, body, format="json")
    client.post(ENTRIES, body, format="json")  # repeat
    client.post(ENTRIES, {**body, "nrs_now": 1}, format="json")  # conflict
    client.patch(entry_url(body["id"]), {"nrs_now": 1}, format="json")  # no version
    client.patch(entry_url(body["id"]), {"nrs_now": 1}, format="json", HTTP_IF_MATCH='"5"')
    assert [e["type"] for e in published_envelopes()] == ["diary.entry.logged"]


def test_a_change_rolled_back_leaves_no_event_and_no_row(world: World) -> None:
    patient = known_patient(world.patient_a.id)
    cleaned, _ = validate_entry(entry_body())

    @transaction.atomic
    def log_then_fail() -> None:
        entry_log(patient=patient, values=cleaned)
        raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        log_then_fail()
    assert not PainEntry.objects.exists()
    assert not OutboxEvent.objects.exists()
