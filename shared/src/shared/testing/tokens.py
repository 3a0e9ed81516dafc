"""Access tokens for tests: a throwaway RSA key, and a key provider that knows only that key.

Services' test suites set JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider" and mint
tokens with ``access_token(...)``; production code never imports this module.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

TEST_KID = "test-key-1"


@lru_cache(maxsize=4)
def private_key(kid: str = TEST_KID) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TestKeyProvider:
    known_kids: tuple[str, ...] = (TEST_KID,)

    def public_key(self, kid: str) -> Any | None:
        return private_key(kid).public_key() if kid in self.known_kids else None


def access_token(
    user_id: uuid.UUID | str | None = None,
    *,
    roles: tuple[str, ...] = ("patient",),
    clinic_id: uuid.UUID | str | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    kid: str = TEST_KID,
    issued_at: datetime | None = None,
    **extra: Any,
) -> str:
    now = issued_at or datetime.now(tz=UTC)
    claims: dict[str, Any] = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(user_id or uuid.uuid4()),
        "roles": list(roles),
        "clinic": str(clinic_id) if clinic_id else None,
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        **extra,
    }
    return jwt.encode(claims, private_key(kid), algorithm="RS256", headers={"kid": kid})
