"""Every error answers in one shape (RFC 9457 problem details), never as a 500 for bad input."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from shared.testing.tokens import access_token

ECHO = "/api/sharedtest/v1/echo/"


@pytest.fixture
def client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")
    return client


def _assert_problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_malformed_json_is_a_400_problem(client: APIClient) -> None:
    response = client.post(ECHO, data='{"score": 4', content_type="application/json")
    _assert_problem(response, 400, "malformed-request")


def test_wrong_type_names_the_field(client: APIClient) -> None:
    response = client.post(ECHO, {"score": "four"}, format="json")
    body = _assert_problem(response, 400, "validation-error")
    assert body["errors"] == [{"field": "score", "message": "A valid integer is required."}]
    assert body["detail"].startswith("score:")


def test_out_of_range_value_is_refused(client: APIClient) -> None:
    response = client.post(ECHO, {"score": 11}, format="json")
    body = _assert_problem(response, 400, "validation-error")
    assert body["errors"][0]["field"] == "score"


def test_unknown_fields_are_refused_not_ignored(client: APIClient) -> None:
    response = client.post(ECHO, {"score": 3, "patient": "someone-else"}, format="json")
    body = _assert_problem(response, 400, "validation-error")
    assert {"field": "patient", "message": "This field is not accepted here."} in body["errors"]


def test_a_json_array_where_an_object_is_expected_is_a_400(client: APIClient) -> None:
    response = client.post(ECHO, [1, 2], format="json")
    _assert_problem(response, 400, "validation-error")


def test_wrong_content_type_is_a_415_problem(client: APIClient) -> None:
    response = client.post(ECHO, data="score=4", content_type="application/x-www-form-urlencoded")
    _assert_problem(response, 415, "unsupported-media-type")


@override_settings(MAX_REQUEST_BYTES=2048)
def test_oversize_body_is_a_413_problem(client: APIClient) -> None:
    big = '{"score": 4, "note": "' + "x" * 4096 + '"}'
    response = client.post(ECHO, data=big, content_type="application/json")
    body = _assert_problem(response, 413, "payload-too-large")
    assert "2048" in body["detail"]


def test_unknown_url_is_a_404_problem(client: APIClient) -> None:
    _assert_problem(client.get("/api/sharedtest/v1/nothing-here/"), 404, "not-found")


def test_wrong_method_is_a_405_problem(client: APIClient) -> None:
    _assert_problem(client.delete(ECHO), 405, "method-not-allowed")


def test_the_gateways_request_id_is_kept_and_echoed(client: APIClient) -> None:
    response = client.post(ECHO, {"score": 1}, format="json", HTTP_X_REQUEST_ID="gw-req-12345678")
    assert response["X-Request-ID"] == "gw-req-12345678"


def test_a_malformed_request_id_is_replaced(client: APIClient) -> None:
    response = client.post(ECHO, {"score": 1}, format="json", HTTP_X_REQUEST_ID="bad id\n")
    assert response["X-Request-ID"] != "bad id\n"
    assert len(response["X-Request-ID"]) == 32
