"""Local verification of identity's RS256 access tokens: no call to identity per request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import jwt
from django.conf import settings
from django.utils.module_loading import import_string

from shared.auth.principal import Role, TokenUser

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


class InvalidToken(Exception):
    """The token is malformed, expired, tampered with or signed by a key we do not know."""


class KeyProvider(Protocol):
    def public_key(self, kid: str) -> Any | None:
        """The public key for ``kid``, or None when no such key is published."""


@lru_cache(maxsize=1)
def _provider_for(path: str) -> KeyProvider:
    provider: KeyProvider = import_string(path)()
    return provider


def key_provider() -> KeyProvider:
    return _provider_for(settings.JWT_KEY_PROVIDER)


def decode_access_token(token: str, provider: KeyProvider | None = None) -> TokenUser:
    provider = provider or key_provider()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
        raise InvalidToken("token must be RS256 with a key id")
    key = provider.public_key(kid)
    if key is None:
        raise InvalidToken("token signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("token rejected") from exc
    return _principal(claims)


def _principal(claims: dict[str, Any]) -> TokenUser:
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    roles = claims.get("roles")
    if not isinstance(roles, list) or not set(roles) <= Role.ALL:
        raise InvalidToken("token carries unknown roles")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        clinic = claims.get("clinic")
        clinic_id = uuid.UUID(str(clinic)) if clinic else None
    except ValueError as exc:
        raise InvalidToken("token carries a malformed id") from exc
    return TokenUser(
        id=user_id,
        roles=frozenset(roles),
        clinic_id=clinic_id,
        token_id=str(claims["jti"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
        email=str(claims.get("email") or ""),
        service_name=str(claims.get("svc") or ""),
    )
