"""A patient signs in at identity and the diary, another process, knows who they are from the
access token alone; a token that was altered, has expired or names a key identity never
published is refused."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.e2e

PATIENT = "patient1@demo.example"
DEMO_PASSWORD = "recovery-demo-2026"
PROBLEM = "application/problem+json"


def sign_in(services: Any, email: str = PATIENT) -> dict[str, Any]:
    response = requests.post(
        f"{services.identity.api}auth/token/",
        json={"email": email, "password": DEMO_PASSWORD},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def diary_whoami(services: Any, token: str) -> requests.Response:
    return requests.get(
        f"{services.diary.api}whoami/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["status"] == 401
    assert problem["type"].endswith("/unauthenticated")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return claims


def identity_signing_key(services: Any) -> tuple[str, rsa.RSAPrivateKey]:
    (pem,) = services.keys_dir.glob("*.pem")
    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return pem.stem, key


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_diary_knows_the_patient_who_signed_in_at_identity(services: Any) -> None:
    tokens = sign_in(services)
    assert tokens["token_type"] == "Bearer"
    profile = requests.get(
        f"{services.identity.api}me/",
        headers={"Authorization": f"Bearer {tokens['access']}"},
        timeout=30,
    ).json()

    response = diary_whoami(services, tokens["access"])

    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": profile["id"],
        "roles": ["patient"],
        "clinic_id": profile["clinic_id"],
    }
    assert profile["clinic_id"] is not None


def test_diary_refuses_a_token_whose_signature_was_altered(services: Any) -> None:
    header, payload, signature = sign_in(services)["access"].split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    forged = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"

    assert_refused(diary_whoami(services, forged))


def test_diary_refuses_a_token_whose_claims_were_altered(services: Any) -> None:
    header, payload, signature = sign_in(services)["access"].split(".")
    claims = json.loads(_unb64(payload))
    claims["roles"] = ["clinician", "system_admin"]
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"

    assert_refused(diary_whoami(services, forged))


def test_diary_refuses_a_token_signed_by_another_key_under_identitys_key_id(
    services: Any,
) -> None:
    tokens = sign_in(services)
    kid = jwt.get_unverified_header(tokens["access"])["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert_refused(diary_whoami(services, sign(claims_of(tokens["access"]), stranger, kid)))


def test_diary_refuses_a_token_naming_a_key_identity_never_published(services: Any) -> None:
    claims = claims_of(sign_in(services)["access"])
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    response = diary_whoami(services, sign(claims, stranger, f"unknown-{uuid.uuid4().hex}"))

    assert_refused(response)


def test_diary_refuses_a_token_once_it_has_expired(services: Any) -> None:
    # identity will not issue tokens shorter than 30 s; the same token with an earlier expiry,
    # signed with identity's own key, tests the same thing without the wait.
    kid, key = identity_signing_key(services)
    claims = claims_of(sign_in(services)["access"])
    now = int(time.time())
    still_valid = {**claims, "iat": now - 60, "exp": now + 60}
    expired = {**claims, "iat": now - 60, "exp": now - 1}

    assert diary_whoami(services, sign(still_valid, key, kid)).status_code == 200
    assert_refused(diary_whoami(services, sign(expired, key, kid)))
