"""Identity's own authenticated endpoints verify access tokens with the published keys."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.utils import timezone
from factories import member
from helpers import ME, bearer, claims, header, is_problem, tokens_for

from identity.accounts.services import user_deactivate

pytestmark = pytest.mark.django_db


def _forge_payload(token: str, **changes: object) -> str:
    head, _, signature = token.split(".")
    body = claims(token) | changes
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def test_valid_token_reads_the_callers_profile() -> None:
    user = member("patient")
    response = bearer(tokens_for(user.email)["access"]).get(ME)
    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)


def test_request_without_token_is_refused() -> None:
    response = bearer("").get(ME)
    assert is_problem(response, 401, "unauthenticated")


def test_expired_token_is_refused() -> None:
    user = member("patient")
    token = tokens_for(user.email)["access"]
    later = timezone.now() + timedelta(
        seconds=settings.ACCESS_TOKEN_SECONDS + settings.JWT_LEEWAY_SECONDS + 5
    )
    with time_machine.travel(later, tick=False):
        response = bearer(token).get(ME)
    assert is_problem(response, 401, "unauthenticated")
    assert "expired" in response.json()["detail"]


def test_tampered_token_is_refused() -> None:
    patient = member("patient")
    token = tokens_for(patient.email)["access"]
    escalated = _forge_payload(token, roles=["system_admin"])
    response = bearer(escalated).get(ME)
    assert is_problem(response, 401, "unauthenticated")


def test_token_with_an_unknown_kid_is_refused() -> None:
    user = member("patient")
    token = tokens_for(user.email)["access"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(token), stranger, algorithm="RS256", headers={"kid": "not-ours"})
    response = bearer(forged).get(ME)
    assert is_problem(response, 401, "unauthenticated")
    assert "unknown key" in response.json()["detail"]


def test_token_signed_by_another_key_under_our_kid_is_refused() -> None:
    user = member("patient")
    token = tokens_for(user.email)["access"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(token), stranger, algorithm="RS256", headers=header(token))
    response = bearer(forged).get(ME)
    assert is_problem(response, 401, "unauthenticated")


def test_unsigned_token_is_refused() -> None:
    user = member("patient")
    token = tokens_for(user.email)["access"]
    unsigned = jwt.encode(
        claims(token), None, algorithm="none", headers={"kid": header(token)["kid"]}
    )
    assert is_problem(bearer(unsigned).get(ME), 401, "unauthenticated")


def test_token_of_a_deactivated_user_stops_working_at_identity_at_once() -> None:
    user = member("patient")
    token = tokens_for(user.email)["access"]
    user_deactivate(actor_id=None, user=user)
    assert is_problem(bearer(token).get(ME), 401, "unauthenticated")
