"""Lists are scoped to the caller and paged, and no client can ask for an unbounded page."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient
from sharedtest.models import PainScore

from shared.testing.tokens import access_token

pytestmark = pytest.mark.django_db
SCORES = "/api/sharedtest/v1/scores/"


def _client(user_id: uuid.UUID, roles: tuple[str, ...] = ("patient",)) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user_id, roles=roles)}")
    return client


def test_a_patient_lists_only_their_own_rows() -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    PainScore.objects.bulk_create(
        [PainScore(patient_id=mine, score=3), PainScore(patient_id=theirs, score=9)]
    )
    body = _client(mine).get(SCORES).json()
    assert body["count"] == 1
    assert [row["score"] for row in body["results"]] == [3]


def test_page_size_is_capped_whatever_the_client_asks() -> None:
    patient = uuid.uuid4()
    PainScore.objects.bulk_create(PainScore(patient_id=patient, score=5) for _ in range(250))
    body = _client(patient).get(SCORES, {"page_size": 100000}).json()
    assert body["count"] == 250
    assert len(body["results"]) == 200
    assert body["next"] is not None


def test_default_page_and_a_smaller_requested_page() -> None:
    patient = uuid.uuid4()
    PainScore.objects.bulk_create(PainScore(patient_id=patient, score=5) for _ in range(60))
    assert len(_client(patient).get(SCORES).json()["results"]) == 50
    assert len(_client(patient).get(SCORES, {"page_size": 7}).json()["results"]) == 7


def test_a_page_past_the_end_is_a_404_problem() -> None:
    response = _client(uuid.uuid4()).get(SCORES, {"page": 99})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
