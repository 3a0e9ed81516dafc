"""What reminders subscribes to, and the portable code paths the embedded default (SQLite)
takes instead of the PostgreSQL statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from helpers import enrol, inject, make_patient, make_prompt, make_template, offset, sends, sweep

from reminders.prompts.models import Prompt, PromptStatus
from shared.events.catalogue import subscribers_of
from shared.events.checks import check_handlers_are_subscribed
from shared.events.registry import handled_types
from shared.events.testing import published_envelopes

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

HANDLED = {
    "identity.patient.enrolled",
    "identity.patient.updated",
    "identity.patient.deactivated",
    "identity.patient.reactivated",
    "identity.patient.erased",
    "diary.injection.recorded",
    "diary.injection.corrected",
    "diary.injection.deleted",
    "diary.entry.logged",
    "diary.questionnaire.completed",
}


def test_reminders_handles_exactly_the_events_it_needs_and_is_subscribed_to_them() -> None:
    assert handled_types() == HANDLED
    assert all("reminders" in subscribers_of(name) for name in HANDLED)
    assert check_handlers_are_subscribed() == []


@pytest.fixture
def portable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The code paths taken where the database is not PostgreSQL."""
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("portable")
def test_the_portable_paths_plan_send_nudge_and_expire_like_the_postgresql_ones() -> None:
    clinic = uuid.uuid4()
    make_template(clinic, [offset(days=1, window=6, nudge_after=2, nudge_max=1)])
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    (prompt,) = Prompt.objects.filter(patient_id=patient)
    due = prompt.intended_at

    for step in range(0, 8 * 4):
        with time_machine.travel(due + timedelta(minutes=15 * step), tick=False):
            sweep(due + timedelta(minutes=15 * step))

    assert [(s.attempt, s.recorded_at - due) for s in sends(prompt)] == [
        (1, timedelta(0)),
        (2, timedelta(hours=2)),
    ]
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.EXPIRED
    assert len(published_envelopes("reminders.prompt.sent")) == 1
    assert len(published_envelopes("reminders.prompt.expired")) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("portable")
def test_the_portable_claim_takes_each_prompt_once() -> None:
    clinic = uuid.uuid4()
    prompts = [make_prompt(make_patient(clinic), clinic_id=clinic, due_at=NOW) for _ in range(5)]
    first, second = sweep(NOW), sweep(NOW)
    assert (first.claimed, second.claimed) == (5, 0)
    assert sorted(s.prompt_id for s in sends()) == sorted(p.id for p in prompts)
