"""Malformed, out-of-range and hostile input gets a problem-details answer, never a 500, and the
answer never repeats the patient's words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from helpers import (
    ENTRIES,
    INJECTIONS,
    QUESTIONNAIRES,
    World,
    create_entry,
    entry_body,
    entry_url,
    injection_body,
    injection_url,
    is_problem,
    odi_body,
    patient_url,
    record_injection,
)

from diary.entries.models import PainEntry
from diary.injections.models import Injection

pytestmark = pytest.mark.django_db

SECRET = "my husband does not know about the pain"


@pytest.mark.parametrize(
    "changes",
    [
        {"nrs_now": 11},
        {"nrs_average_7d": -3},
        {"nrs_now": "seven"},
        {"nrs_now": [5]},
        {"side_effects": ["fever", "hiccups"]},
        {"body_regions": [{"region": "back"}]},
        {"medications": {"name": "ibuprofen"}},
        {"medications": [{"name": SECRET * 5}]},
        {"timezone": "GMT+1"},
        {"timezone": ""},
        {"occurred_at": "2026-13-45T99:00:00Z"},
        {"id": "123"},
        {"patient": "someone-else", "mood": "low"},
        {"note": SECRET * 100},
        {"note": SECRET + "\x00"},
        {"note": 42},
    ],
)
def test_bad_entries_are_validation_problems(world: World, changes: dict[str, Any]) -> None:
    body = {**entry_body(note=SECRET), **changes}
    response = world.patient_a.client().post(ENTRIES, body, format="json")
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"]
    assert SECRET not in response.content.decode()
    assert not PainEntry.objects.exists()


@pytest.mark.parametrize("body", [[], "just a string", 42, None])
def test_a_body_that_is_not_an_object_is_a_validation_problem(world: World, body: Any) -> None:
    response = world.patient_a.client().post(ENTRIES, body, format="json")
    assert is_problem(response, 400, "validation-error")


def test_malformed_json_is_a_problem(world: World) -> None:
    response = world.patient_a.client().post(
        ENTRIES, data='{"id": "x", ', content_type="application/json"
    )
    assert is_problem(response, 400, "malformed-request")


def test_a_lone_surrogate_in_the_note_is_refused(world: World) -> None:
    # Valid JSON (an escaped lone surrogate) that no database can store.
    raw = json.dumps(entry_body(note="PLACEHOLDER")).replace("PLACEHOLDER", "pain\\ud800")
    response = world.patient_a.client().post(ENTRIES, data=raw, content_type="application/json")
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"][0]["field"] == "note"
    assert not PainEntry.objects.exists()


def test_an_oversize_body_is_refused_before_it_is_read(world: World) -> None:
    body = entry_body(note="x" * (settings.MAX_REQUEST_BYTES + 1))
    response = world.patient_a.client().post(ENTRIES, body, format="json")
    assert is_problem(response, 413, "payload-too-large")
    assert not PainEntry.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"site": "knee"},
        {"laterality": "up"},
        {"solution": "dextrose", "dextrose_percent": 0},
        {"solution": "dextrose", "dextrose_percent": 90},
        {"dextrose_percent": "25%"},
        {"guidance": "mri"},
        {"protocol": "secret_sauce"},
        {"diagnosis": "flu"},
        {"co_treatments": ["acupuncture"]},
        {"performed_at": None},
        {"performed_at": "2999-01-01T00:00:00Z"},
        {"course_id": "course-1"},
        {"anaesthetic": 1},
        {"notes": "free text is not taken"},
    ],
)
def test_bad_injections_are_validation_problems(world: World, changes: dict[str, Any]) -> None:
    body = {**injection_body(), **changes}
    response = world.clinician.client().post(
        patient_url(world.patient_a.id, "injections"), body, format="json"
    )
    assert is_problem(response, 400, "validation-error")
    assert not Injection.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"instrument": "sf36"},
        {"answers": "1,2,3"},
        {"answers": [1.5] * 10},
        {"answers": [1] * 100},
        {"occurred_at": None},
        {"timezone": "Nowhere/Land"},
        {"score": "ignored", "extra": 1},
    ],
)
def test_bad_questionnaires_are_validation_problems(world: World, changes: dict[str, Any]) -> None:
    body = {**odi_body([1] * 10), **changes}
    response = world.patient_a.client().post(QUESTIONNAIRES, body, format="json")
    assert is_problem(response, 400, "validation-error")


@pytest.mark.parametrize("header", ['"one"', "3", 'W/"x"', '"99999999999999"'])
def test_a_malformed_if_match_is_a_validation_problem(world: World, header: str) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 1}, format="json", HTTP_IF_MATCH=header
    )
    assert is_problem(response, 400, "validation-error")


@pytest.mark.parametrize("version", ["1", 0, True, None, 1.0])
def test_a_malformed_version_field_is_a_validation_problem(world: World, version: Any) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 1, "version": version}, format="json"
    )
    assert is_problem(response, 400, "validation-error")


def test_an_if_match_and_a_version_that_disagree_are_refused(world: World) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), {"nrs_now": 1, "version": 2}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert is_problem(response, 400, "validation-error")


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (ENTRIES, {"patient": "nobody"}),
        (ENTRIES, {"occurred_after": "last week"}),
        (ENTRIES, {"occurred_before": "2026-01-01T00:00:00"}),
        (INJECTIONS, {"performed_after": "soon"}),
        (QUESTIONNAIRES, {"occurred_before": "0"}),
    ],
)
def test_bad_list_filters_are_validation_problems(
    world: World, url: str, params: dict[str, str]
) -> None:
    response = world.clinician.client().get(url, params)
    assert is_problem(response, 400, "validation-error")


def test_a_page_past_the_end_is_not_found(world: World) -> None:
    response = world.patient_a.client().get(ENTRIES, {"page": 9})
    assert is_problem(response, 404, "not-found")


def test_a_malformed_id_in_the_path_is_not_found(world: World) -> None:
    response = world.patient_a.client().get(ENTRIES + "not-a-uuid/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"course_id": None},
        {"performed_at": None},
        {"performed_at": "2999-01-01T00:00:00Z"},
        {"dextrose_percent": 30, "solution": "prp"},
        {"verified": "yes please", "mood": 1},
    ],
)
def test_bad_injection_corrections_change_nothing(world: World, changes: dict[str, Any]) -> None:
    injection = record_injection(world.clinician, world.patient_a)
    response = world.clinician.client().patch(
        injection_url(injection["id"]), changes, format="json", HTTP_IF_MATCH='"1"'
    )
    assert is_problem(response, 400, "validation-error")
    assert Injection.objects.get(pk=injection["id"]).version == 1


@pytest.mark.parametrize(
    "changes",
    [{"nrs_now": None}, {"timezone": None}, {"occurred_at": None}, {"id": "elsewhere", "x": 1}],
)
def test_bad_entry_corrections_change_nothing(world: World, changes: dict[str, Any]) -> None:
    entry = create_entry(world.patient_a)
    response = world.patient_a.client().patch(
        entry_url(entry["id"]), changes, format="json", HTTP_IF_MATCH='"1"'
    )
    assert is_problem(response, 400, "validation-error")
    assert PainEntry.objects.get(pk=entry["id"]).version == 1
