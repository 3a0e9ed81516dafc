"""Local verification of identity's RS256 access tokens: no call to identity per request."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
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


class _VerifiedTokens:
    """Tokens this process has verified, until they expire.

    A phone sends the same access token with every request for its five minutes; checking the
    RS256 signature and parsing the claims again each time is most of the cost of authenticating.
    A hit must be the very same token string, under the same audience, issuer and leeway, while
    the provider still publishes the same key that verified it (a withdrawn key ends every token
    it signed at once), and before its expiry; anything else is verified in full.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], tuple[TokenUser, str, Any, float]] = (
            OrderedDict()
        )

    def get(self, key: tuple[Any, ...], provider: KeyProvider, leeway: float) -> TokenUser | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        principal, kid, public_key, expires = entry
        if time.time() >= expires + leeway or provider.public_key(kid) != public_key:
            with self._lock:
                self._entries.pop(key, None)
            return None
        return principal

    def put(self, key: tuple[Any, ...], principal: TokenUser, kid: str, public_key: Any) -> None:
        expires = principal.expires_at.timestamp()
        with self._lock:
            self._entries[key] = (principal, kid, public_key, expires)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# Memory: a few hundred bytes per token; far more than the tokens one process sees in five
# minutes in a clinic, and the oldest go first.
verified_tokens = _VerifiedTokens(size=10_000)


def decode_access_token(token: str, provider: KeyProvider | None = None) -> TokenUser:
    provider = provider or key_provider()
    leeway = settings.JWT_LEEWAY_SECONDS
    cache_key = (token, id(provider), settings.JWT_AUDIENCE, settings.JWT_ISSUER, leeway)
    cached = verified_tokens.get(cache_key, provider, leeway)
    if cached is not None:
        return cached
    principal, kid, key = _verify(token, provider)
    verified_tokens.put(cache_key, principal, kid, key)
    return principal


def _verify(token: str, provider: KeyProvider) -> tuple[TokenUser, str, Any]:
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
    return _principal(claims), kid, key


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
