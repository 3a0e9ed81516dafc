"""Minting of access tokens (the claims of the cross-service contract) and refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import jwt
from django.conf import settings

from identity.authn.keys import SigningKey
from shared.auth.tokens import ACCESS_TOKEN_TYPE, ALGORITHM


def access_token_encode(
    *,
    key: SigningKey,
    user_id: uuid.UUID,
    email: str,
    roles: list[str],
    clinic_id: uuid.UUID | None,
    issued_at: datetime,
    service_name: str | None = None,
) -> str:
    now = int(issued_at.timestamp())
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(user_id),
        "roles": roles,
        "clinic": str(clinic_id) if clinic_id else None,
        "typ": ACCESS_TOKEN_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.ACCESS_TOKEN_SECONDS,
        "email": email,
    }
    if service_name:
        claims["svc"] = service_name
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def refresh_token_new() -> str:
    """An opaque token with 256 bits of randomness; it means nothing without our database."""
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
