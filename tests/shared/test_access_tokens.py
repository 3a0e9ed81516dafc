"""Access tokens are verified locally: expired, tampered, unknown-key, wrong-audience ones fail."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from shared.testing.tokens import access_token

ECHO = "/api/sharedtest/v1/echo/"
PATIENTS_ONLY = "/api/sharedtest/v1/patients-only/"


def _bearer(client: APIClient, token: str) -> APIClient:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _swap_payload(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_valid_token_reaches_the_view(api_client: APIClient) -> None:
    user_id = uuid.uuid4()
    response = _bearer(api_client, access_token(user_id)).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 200
    assert response.json() == {"score": 4, "user": str(user_id)}


def test_request_without_token_is_refused_with_a_challenge(api_client: APIClient) -> None:
    response = api_client.post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unauthenticated")


def test_expired_token_is_refused(api_client: APIClient) -> None:
    old = datetime.now(tz=UTC) - timedelta(hours=1)
    token = access_token(issued_at=old, lifetime=timedelta(minutes=5))
    response = _bearer(api_client, token).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_with_elevated_roles_in_a_tampered_payload_is_refused(api_client: APIClient) -> None:
    token = _swap_payload(access_token(roles=("patient",)), roles=["system_admin"])
    response = _bearer(api_client, token).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401


def test_token_with_a_corrupted_signature_is_refused(api_client: APIClient) -> None:
    token = access_token()
    head, _, signature = token.rpartition(".")
    flipped = ("A" if signature[5] != "A" else "B").join([signature[:5], signature[6:]])
    response = _bearer(api_client, f"{head}.{flipped}").post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401


def test_token_signed_by_an_unpublished_key_is_refused(api_client: APIClient) -> None:
    token = access_token(kid="not-published")
    response = _bearer(api_client, token).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401
    assert "unknown key" in response.json()["detail"]


def test_token_for_another_audience_is_refused(api_client: APIClient) -> None:
    token = access_token(aud="someone-else")
    response = _bearer(api_client, token).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401


def test_refresh_type_token_cannot_be_used_as_access(api_client: APIClient) -> None:
    token = access_token(typ="refresh")
    response = _bearer(api_client, token).post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401


def test_unsigned_token_is_refused(api_client: APIClient) -> None:
    token = access_token()
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"test-key-1"}').rstrip(b"=").decode()
    _, payload, _ = token.split(".")
    response = _bearer(api_client, f"{header}.{payload}.").post(ECHO, {"score": 4}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("roles", "status"),
    [(("patient",), 200), (("clinician",), 403), (("clinic_admin",), 403)],
)
def test_role_permission_lets_only_that_role_through(
    api_client: APIClient, roles: tuple[str, ...], status: int
) -> None:
    response = _bearer(api_client, access_token(roles=roles)).get(PATIENTS_ONLY)
    assert response.status_code == status
