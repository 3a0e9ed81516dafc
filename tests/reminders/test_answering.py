"""Diary entries and questionnaires answer prompts: by id, or the nearest open one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from helpers import (
    complete_questionnaire,
    envelope,
    log_entry,
    make_patient,
    make_prompt,
    sweep,
)

from reminders.prompts.models import Prompt, PromptStatus
from shared.events.services import event_handle
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC = uuid.uuid4()


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def status(prompt: Prompt) -> str:
    prompt.refresh_from_db()
    return prompt.status


def test_an_entry_naming_its_prompt_answers_it() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    sweep(NOW)

    entry = log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=1), prompt_id=prompt.id)

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.ANSWERED
    assert prompt.answered_at == NOW + timedelta(hours=1)
    assert prompt.answer_id == entry
    (event,) = published_envelopes("reminders.prompt.answered")
    assert event["data"] == {
        "prompt_id": str(prompt.id),
        "patient_id": str(patient),
        "clinic_id": str(CLINIC),
        "due_at": "2026-06-01T08:00:00Z",
        "answered_at": "2026-06-01T09:00:00Z",
        "answer_id": str(entry),
    }


def test_an_entry_naming_another_patients_prompt_does_not_answer_it() -> None:
    patient, other = make_patient(CLINIC), make_patient(CLINIC)
    theirs = make_prompt(other, clinic_id=CLINIC, due_at=NOW)
    mine = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    sweep(NOW)

    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=1), prompt_id=theirs.id)

    assert status(theirs) == PromptStatus.SENT
    # It still answers the patient's own open pain-score prompt.
    assert status(mine) == PromptStatus.ANSWERED


def test_an_entry_without_a_prompt_answers_the_latest_open_prompt_whose_window_holds_it() -> None:
    patient = make_patient(CLINIC)
    earlier = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=48)
    later = make_prompt(patient, clinic_id=CLINIC, due_at=NOW + timedelta(days=1), window_hours=48)
    sweep(NOW + timedelta(days=1))

    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(days=1, hours=2))

    assert status(later) == PromptStatus.ANSWERED
    assert status(earlier) == PromptStatus.SENT


def test_an_entry_before_any_prompt_or_after_its_window_answers_nothing() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=6)
    sweep(NOW)

    log_entry(patient, clinic_id=CLINIC, at=NOW - timedelta(minutes=5))
    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=7))

    assert status(prompt) == PromptStatus.SENT
    assert published_envelopes("reminders.prompt.answered") == []


def test_a_questionnaire_answers_a_prompt_of_its_own_instrument_only() -> None:
    patient = make_patient(CLINIC)
    nrs = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, instrument="nrs")
    odi = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, instrument="odi")
    sweep(NOW)

    complete_questionnaire(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=1), instrument="odi")
    # An entry with no pain score (side effects only) answers no pain-score prompt.
    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=1), nrs=None)

    assert status(odi) == PromptStatus.ANSWERED
    assert status(nrs) == PromptStatus.SENT


def test_a_questionnaire_naming_its_prompt_answers_it() -> None:
    patient = make_patient(CLINIC)
    pgic = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, instrument="pgic")
    sweep(NOW)

    complete_questionnaire(
        patient, clinic_id=CLINIC, at=NOW, instrument="pgic", score=2, prompt_id=pgic.id
    )

    assert status(pgic) == PromptStatus.ANSWERED


def test_an_answer_given_offline_inside_the_window_counts_when_it_syncs_after_expiry(
    clock: time_machine.Traveller,
) -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=2)
    sweep(NOW)
    clock.move_to(NOW + timedelta(hours=5))
    sweep(NOW + timedelta(hours=5))
    assert status(prompt) == PromptStatus.EXPIRED

    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(hours=1), prompt_id=prompt.id)

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.ANSWERED
    assert prompt.expired_at is None
    assert len(published_envelopes("reminders.prompt.answered")) == 1


def test_an_entry_without_a_prompt_made_inside_the_window_answers_it_after_expiry(
    clock: time_machine.Traveller,
) -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, window_hours=2)
    sweep(NOW)
    clock.move_to(NOW + timedelta(days=2))
    sweep(NOW + timedelta(days=2))
    assert status(prompt) == PromptStatus.EXPIRED

    # The phone was offline: the entry made inside the window arrives two days later.
    log_entry(patient, clinic_id=CLINIC, at=NOW + timedelta(minutes=30))

    assert status(prompt) == PromptStatus.ANSWERED
    assert len(published_envelopes("reminders.prompt.answered")) == 1


def test_a_redelivered_entry_event_answers_once() -> None:
    patient = make_patient(CLINIC)
    make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    sweep(NOW)
    message = envelope(
        "diary.entry.logged",
        {
            "entry_id": str(uuid.uuid4()),
            "patient_id": str(patient),
            "clinic_id": str(CLINIC),
            "recorded_at": "2026-06-01T08:30:00Z",
            "nrs": 4,
            "prompt_id": None,
            "nsaid": False,
            "side_effects": [],
            "red_flag": False,
        },
    )

    assert event_handle(envelope=message) is True
    assert event_handle(envelope=message) is False
    assert len(published_envelopes("reminders.prompt.answered")) == 1
