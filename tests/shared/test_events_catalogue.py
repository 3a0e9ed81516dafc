"""The event catalogue: who receives what, what a valid envelope is, and that the docs match it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.events.catalogue import (
    CATALOGUE,
    InvalidEvent,
    UnknownEventType,
    subscribers_of,
    utc_isoformat,
    validate_envelope,
)
from shared.events.docs import END, START, render_catalogue

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
PATIENT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def enrolled_envelope(**changes: Any) -> dict[str, Any]:
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "identity.patient.enrolled",
        "version": 1,
        "occurred_at": "2026-11-21T09:00:00.123456Z",
        "producer": "identity",
        "subject": PATIENT,
        "data": {
            "patient_id": PATIENT,
            "clinic_id": str(uuid.uuid4()),
            "timezone": "Europe/London",
            "locale": "en-GB",
            "sex": "female",
            "birth_year": 1968,
            "enrolled_at": "2026-11-21T09:00:00Z",
        },
    }
    envelope.update(changes)
    return envelope


def test_the_catalogue_has_every_event_type_the_services_exchange() -> None:
    assert set(CATALOGUE) >= {
        "identity.patient.enrolled",
        "identity.patient.updated",
        "identity.patient.deactivated",
        "identity.patient.reactivated",
        "identity.patient.erased",
        "diary.injection.recorded",
        "diary.injection.corrected",
        "diary.injection.deleted",
        "diary.entry.logged",
        "diary.entry.corrected",
        "diary.entry.deleted",
        "diary.questionnaire.completed",
        "reminders.prompt.sent",
        "reminders.prompt.answered",
        "reminders.prompt.expired",
    }


@pytest.mark.parametrize(
    ("prefix", "subscribers"),
    [
        ("identity.patient.enrolled", {"diary", "reminders", "outcomes"}),
        ("identity.patient.updated", {"diary", "reminders", "outcomes"}),
        ("identity.patient.erased", {"diary", "reminders", "outcomes"}),
        # Only reminders acts on it (it stops prompting); the others keep the patient's data.
        ("identity.patient.deactivated", {"reminders"}),
        ("identity.patient.reactivated", {"reminders"}),
        ("diary.injection.", {"reminders", "outcomes"}),
        ("diary.entry.", {"reminders", "outcomes"}),
        # Questionnaires answer ODI and PGIC prompts, so reminders hears of them too.
        ("diary.questionnaire.completed", {"reminders", "outcomes"}),
        ("reminders.prompt.", {"outcomes"}),
    ],
)
def test_events_reach_the_services_that_subscribe(prefix: str, subscribers: set[str]) -> None:
    types = [name for name in CATALOGUE if name.startswith(prefix)]
    assert types
    for name in types:
        assert set(subscribers_of(name)) == subscribers, name


def test_every_type_is_produced_by_the_service_its_name_starts_with() -> None:
    for name, spec in CATALOGUE.items():
        assert name.split(".")[0] == spec.producer
        assert spec.producer not in spec.subscribers


def test_identity_events_carry_the_fields_outcomes_splits_cohorts_by() -> None:
    enrolled = CATALOGUE["identity.patient.enrolled"].data
    assert set(enrolled) == {
        "patient_id",
        "clinic_id",
        "timezone",
        "locale",
        "sex",
        "birth_year",
        "enrolled_at",
    }
    assert enrolled["sex"].choices == ("female", "male", "other", "unknown")
    assert enrolled["birth_year"].nullable
    assert set(CATALOGUE["identity.patient.updated"].data) == (set(enrolled) - {"enrolled_at"}) | {
        "changed"
    }
    assert set(CATALOGUE["identity.patient.erased"].data) == {"patient_id", "clinic_id"}


def test_a_valid_envelope_is_accepted() -> None:
    spec = validate_envelope(enrolled_envelope())
    assert spec.name == "identity.patient.enrolled"


def test_a_null_birth_year_is_accepted() -> None:
    envelope = enrolled_envelope()
    envelope["data"]["birth_year"] = None
    validate_envelope(envelope)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"version": 2}, "version must be 1"),
        ({"producer": "diary"}, "producer must be identity"),
        ({"occurred_at": "2026-11-21T09:00:00+01:00"}, "occurred_at"),
        ({"occurred_at": "2026-11-21T09:00:00"}, "occurred_at"),
        ({"subject": str(uuid.uuid4())}, "subject must equal data.patient_id"),
        ({"subject": PATIENT.upper()}, "subject"),
        ({"id": "not-a-uuid"}, "envelope.id"),
    ],
)
def test_an_envelope_that_breaks_the_contract_is_refused(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidEvent, match=problem):
        validate_envelope(enrolled_envelope(**changes))


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("sex", "Female (self-described)", "data.sex must be"),
        ("birth_year", "1968", "data.birth_year must be integer"),
        ("clinic_id", 424242, "data.clinic_id must be uuid"),
        ("enrolled_at", "yesterday", "data.enrolled_at must be datetime"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_without_echoing_its_value(
    field: str, value: Any, problem: str
) -> None:
    envelope = enrolled_envelope()
    envelope["data"][field] = value
    with pytest.raises(InvalidEvent, match=problem) as refused:
        validate_envelope(envelope)
    assert str(value) not in str(refused.value)


def test_a_missing_data_field_is_refused() -> None:
    envelope = enrolled_envelope()
    del envelope["data"]["timezone"]
    with pytest.raises(InvalidEvent, match=r"data\.timezone is missing"):
        validate_envelope(envelope)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        validate_envelope(enrolled_envelope(type="identity.patient.renamed"))


def test_an_envelope_missing_a_key_is_refused() -> None:
    envelope = enrolled_envelope()
    del envelope["occurred_at"]
    with pytest.raises(InvalidEvent, match=r"envelope\.occurred_at is missing"):
        validate_envelope(envelope)


def test_an_undeclared_data_field_is_refused_strictly_but_tolerated_by_consumers() -> None:
    envelope = enrolled_envelope()
    envelope["data"]["referrer"] = "gp"
    with pytest.raises(InvalidEvent, match=r"data\.referrer is not in the catalogue"):
        validate_envelope(envelope)
    validate_envelope(envelope, allow_unknown_fields=True)


def test_pain_scores_outside_0_to_10_are_refused() -> None:
    data = {
        "entry_id": str(uuid.uuid4()),
        "patient_id": PATIENT,
        "clinic_id": str(uuid.uuid4()),
        "recorded_at": "2026-11-20T08:30:00Z",
        "nrs": 11,
        "prompt_id": None,
        "nsaid": False,
        "side_effects": ["bruising"],
        "red_flag": False,
    }
    envelope = enrolled_envelope(type="diary.entry.logged", producer="diary", data=data)
    with pytest.raises(InvalidEvent, match=r"data.nrs must be integer 0..10 or null"):
        validate_envelope(envelope)
    data["nrs"] = 10
    validate_envelope(envelope)


def test_event_timestamps_are_written_in_utc_with_a_z() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 29, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert utc_isoformat(local) == "2026-03-29T08:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_isoformat(datetime(2026, 3, 29, 9, 0))  # noqa: DTZ001


def test_docs_list_every_event_type_of_the_catalogue() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in CATALOGUE:
        assert f"### {name}\n" in text, name


def test_docs_catalogue_section_is_generated_from_the_module() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index(START) : text.index(END) + len(END)]
    assert section == render_catalogue(), (
        "docs/events.md is out of date: run python -m shared.events.docs docs/events.md"
    )
