"""The phone's retries arrive at once: the same create in parallel is stored once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from helpers import ENTRIES, QUESTIONNAIRES, entry_body, odi_body, patient_actor

from diary.entries.models import PainEntry
from diary.questionnaires.models import QuestionnaireResponse
from shared.events.testing import published_envelopes

PARALLEL = 5


def _post_in_parallel(url: str, body: dict[str, Any], clients: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def post(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = clients[index].post(url, body, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


@pytest.mark.django_db(transaction=True)
def test_the_same_entry_posted_five_times_at_once_is_stored_once() -> None:
    patient = patient_actor(uuid.uuid4())
    body = entry_body()
    answers = _post_in_parallel(ENTRIES, body, [patient.client() for _ in range(PARALLEL)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * (PARALLEL - 1) + [201]
    bodies = [answer.json() for answer in answers]
    assert all(b == bodies[0] for b in bodies)
    replayed = [a for a in answers if a.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == PARALLEL - 1
    assert PainEntry.objects.filter(pk=body["id"]).count() == 1
    assert len(published_envelopes("diary.entry.logged")) == 1


@pytest.mark.django_db(transaction=True)
def test_five_parallel_creates_with_one_id_and_different_contents_store_one() -> None:
    patient = patient_actor(uuid.uuid4())
    body = entry_body()
    clients = [patient.client() for _ in range(PARALLEL)]
    barrier = threading.Barrier(PARALLEL)
    answers: list[Any] = [None] * PARALLEL

    def post(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = clients[index].post(ENTRIES, {**body, "nrs_now": index}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (PARALLEL - 1)
    winner = next(a for a in answers if a.status_code == 201).json()
    assert PainEntry.objects.get(pk=body["id"]).nrs_now == winner["nrs_now"]
    assert len(published_envelopes("diary.entry.logged")) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_questionnaire_posted_five_times_at_once_is_stored_once() -> None:
    patient = patient_actor(uuid.uuid4())
    body = odi_body([2] * 10)
    answers = _post_in_parallel(QUESTIONNAIRES, body, [patient.client() for _ in range(PARALLEL)])
    assert sorted(a.status_code for a in answers) == [200] * (PARALLEL - 1) + [201]
    assert all(a.json() == answers[0].json() for a in answers)
    assert QuestionnaireResponse.objects.count() == 1
    assert len(published_envelopes("diary.questionnaire.completed")) == 1
