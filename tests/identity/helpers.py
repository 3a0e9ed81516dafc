"""Small helpers for identity's API tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from factories import PASSWORD
from rest_framework.test import APIClient

API = "/api/identity/v1/"
TOKEN = API + "auth/token/"
REFRESH = API + "auth/refresh/"
LOGOUT = API + "auth/logout/"
JWKS = API + ".well-known/jwks.json"
ME = API + "me/"
INVITATIONS = API + "invitations/"
ACCEPT = API + "invitations/accept/"
CLINICS = API + "clinics/"
USERS = API + "users/"
PATIENTS = API + "patients/"


def login(client: APIClient, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(TOKEN, {"email": email, "password": password}, format="json", **extra)


def tokens_for(email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(APIClient(), email, password)
    assert response.status_code == 200, response.content
    return dict(response.json())


def as_user(email: str, password: str = PASSWORD) -> APIClient:
    """A client that presents the access token of a fresh sign-in."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(email, password)['access']}")
    return client


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def refresh(client: APIClient, token: str) -> Any:
    return client.post(REFRESH, {"refresh": token}, format="json")


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def claims(token: str) -> dict[str, Any]:
    return segment(token, 1)


def header(token: str) -> dict[str, Any]:
    return segment(token, 0)


def is_problem(response: Any, status: int, type_suffix: str | None = None) -> bool:
    if response.status_code != status:
        return False
    if response["Content-Type"] != "application/problem+json":
        return False
    body = response.json()
    if body.get("status") != status or not body.get("title"):
        return False
    return type_suffix is None or str(body.get("type", "")).endswith("/" + type_suffix)
