"""One login for web pages and every service's Django admin: credentials are checked by identity.

A successful login keeps a thin local user row (named by the identity user id) so Django's
session and admin machinery work; the password never touches this service's database.

The sign-in's tokens (identity's access and refresh tokens) are kept in the server-side session
only, never in a cookie the browser can read and never in a log line. Web pages that call
another service on the signed-in person's behalf use ``session_access_token(request)``, which
refreshes the access token when it is about to expire; logging out of the web session ends the
sign-in at identity as well.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.http import HttpRequest

from shared.auth.principal import Role, TokenUser
from shared.auth.tokens import InvalidToken, decode_access_token
from shared.observability.client_ip import client_ip

logger = logging.getLogger(__name__)

SESSION_PRINCIPAL_KEY = "identity_principal"
SESSION_TOKENS_KEY = "identity_tokens"
TOKEN_PATH = "/api/identity/v1/auth/token/"  # noqa: S105 - a URL path
REFRESH_PATH = "/api/identity/v1/auth/refresh/"
LOGOUT_PATH = "/api/identity/v1/auth/logout/"
IDENTITY_TIMEOUT_SECONDS = 5
# An access token this close to its expiry is refreshed first: a call made with it must not
# expire on its way to the other service.
REFRESH_MARGIN_SECONDS = 30
# Concurrent requests of one session refresh one at a time: identity's refresh tokens are spent
# on use, and presenting a spent one ends the whole sign-in.
REFRESH_LOCK_SECONDS = IDENTITY_TIMEOUT_SECONDS * 2


class IdentityUnavailable(Exception):
    """identity could not be asked (unreachable, or an error on its side): the sign-in may
    still be good, so the caller should say "try again" rather than sign the person out."""


@dataclass(frozen=True)
class _Grant:
    principal: TokenUser
    access: str
    refresh: str


# The grant travels from authenticate() to the login signal on the user object: Django's login()
# may flush or re-key the session in between, so it is written into the session only after.
_GRANT_ATTRIBUTE = "_identity_grant"


def _identity_url(path: str) -> str:
    return str(settings.IDENTITY_URL).rstrip("/") + path


def _principal_data(principal: TokenUser) -> dict[str, Any]:
    return {
        "id": str(principal.id),
        "roles": sorted(principal.roles),
        "clinic_id": str(principal.clinic_id) if principal.clinic_id else None,
        "email": principal.email,
    }


def _tokens_data(grant: _Grant) -> dict[str, Any]:
    return {
        "access": grant.access,
        "refresh": grant.refresh,
        "expires_at": grant.principal.expires_at.timestamp(),
    }


def _grant_from(response: requests.Response) -> _Grant | None:
    try:
        body = response.json()
    except ValueError:
        body = None
    return _grant_from_body(body)


def _grant_from_body(body: Any) -> _Grant | None:
    try:
        principal = decode_access_token(body["access"])
        refresh = str(body["refresh"])
    except (InvalidToken, KeyError, TypeError, ValueError):
        logger.error("identity returned an unusable token for a web sign-in")
        return None
    return _Grant(principal=principal, access=body["access"], refresh=refresh)


def _local_user(principal: TokenUser) -> User:
    """The thin local row of the person identity signed in, made or brought up to date."""
    user_model = get_user_model()
    user, _ = user_model.objects.update_or_create(
        username=str(principal.id),
        defaults={
            "email": principal.email,
            "is_staff": principal.has_role(Role.SYSTEM_ADMIN, Role.CLINIC_ADMIN),
            "is_superuser": principal.has_role(Role.SYSTEM_ADMIN),
            "is_active": True,
        },
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


class IdentityBackend(BaseBackend):
    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        username, password = credentials.get("username"), credentials.get("password")
        if not username or not password:
            return None
        headers = {"Accept": "application/json"}
        if request is not None:
            headers["X-Forwarded-For"] = client_ip(request)
        try:
            response = requests.post(
                _identity_url(TOKEN_PATH),
                json={"email": username, "password": password},
                headers=headers,
                timeout=IDENTITY_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            logger.error("identity unreachable for web login", extra={"error": type(exc).__name__})
            return None
        if response.status_code != 200:
            return None
        grant = _grant_from(response)
        if grant is None:
            return None
        user = _local_user(grant.principal)
        setattr(user, _GRANT_ATTRIBUTE, grant)
        return user

    def get_user(self, user_id: Any) -> User | None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if user.is_active else None


def _keep_grant_in_session(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    grant = getattr(user, _GRANT_ATTRIBUTE, None)
    if grant is None or request is None or not hasattr(request, "session"):
        return
    request.session[SESSION_PRINCIPAL_KEY] = _principal_data(grant.principal)
    request.session[SESSION_TOKENS_KEY] = _tokens_data(grant)
    delattr(user, _GRANT_ATTRIBUTE)


def _end_sign_in_at_identity(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """Logging out of the web session spends the refresh token at identity too (best effort:
    an unreachable identity must not keep anyone signed in here)."""
    if request is None or not hasattr(request, "session"):
        return
    tokens = request.session.get(SESSION_TOKENS_KEY) or {}
    refresh = tokens.get("refresh")
    if not refresh:
        return
    try:
        requests.post(
            _identity_url(LOGOUT_PATH),
            json={"refresh": refresh},
            headers={"Accept": "application/json"},
            timeout=IDENTITY_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        logger.warning("identity unreachable for web logout", extra={"error": type(exc).__name__})


user_logged_in.connect(_keep_grant_in_session, dispatch_uid="shared.auth.keep_grant")
user_logged_out.connect(_end_sign_in_at_identity, dispatch_uid="shared.auth.end_sign_in")


# --- The session's principal and access token ---------------------------------------------------


def session_principal(request: HttpRequest) -> TokenUser | None:
    """Who signed in to this web session, as the roles and clinic of their latest token; None
    for an anonymous session or one signed in some other way."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return None
    data = request.session.get(SESSION_PRINCIPAL_KEY)
    tokens = request.session.get(SESSION_TOKENS_KEY)
    if not data or not tokens or data.get("id") != user.get_username():
        return None
    try:
        return TokenUser(
            id=uuid.UUID(data["id"]),
            roles=frozenset(data.get("roles") or ()),
            clinic_id=uuid.UUID(data["clinic_id"]) if data.get("clinic_id") else None,
            token_id="",
            expires_at=datetime.fromtimestamp(float(tokens["expires_at"]), tz=UTC),
            email=str(data.get("email") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


@contextlib.contextmanager
def _refresh_lock(session_key: str) -> Iterator[bool]:
    key = f"shared:identity-refresh:{session_key}"
    deadline = time.monotonic() + REFRESH_LOCK_SECONDS
    acquired = cache.add(key, "1", timeout=REFRESH_LOCK_SECONDS)
    while not acquired and time.monotonic() < deadline:
        time.sleep(0.05)
        acquired = cache.add(key, "1", timeout=REFRESH_LOCK_SECONDS)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def _stored_tokens(session: SessionBase) -> dict[str, Any] | None:
    """The tokens as the session store has them now (another request may have refreshed)."""
    if not session.session_key:
        return None
    stored = type(session)(session_key=session.session_key).load()
    tokens = stored.get(SESSION_TOKENS_KEY)
    return tokens if isinstance(tokens, dict) else None


def _fresh(tokens: dict[str, Any]) -> bool:
    return float(tokens["expires_at"]) - REFRESH_MARGIN_SECONDS > time.time()


def session_access_token(request: HttpRequest) -> str | None:
    """An access token of the person signed in to this web session, refreshed at identity when
    it is about to expire. None when the sign-in has ended (logged out elsewhere, account
    deactivated, refresh token spent): the caller should end the web session too.

    Raises IdentityUnavailable when identity cannot be asked."""
    session = request.session
    tokens = session.get(SESSION_TOKENS_KEY)
    if not tokens:
        return None
    if _fresh(tokens):
        return str(tokens["access"])
    session_key = session.session_key or ""
    with _refresh_lock(session_key) as locked:
        stored = _stored_tokens(session)
        if stored and stored.get("refresh") != tokens.get("refresh"):
            # Refreshed by a concurrent request of this session: take its tokens.
            session[SESSION_TOKENS_KEY] = stored
            tokens = stored
            if _fresh(tokens):
                return str(tokens["access"])
        if not locked:
            raise IdentityUnavailable("another request of this session is still refreshing")
        grant = _refreshed(str(tokens["refresh"]))
        if grant is None:
            session.pop(SESSION_TOKENS_KEY, None)
            session.save()
            return None
        session[SESSION_TOKENS_KEY] = _tokens_data(grant)
        session[SESSION_PRINCIPAL_KEY] = _principal_data(grant.principal)
        # Saved now, not when the response goes out: the old refresh token is spent, and a
        # concurrent request of this session must find the new one.
        session.save()
        return grant.access


def session_tokens_replace(request: HttpRequest, body: Any) -> bool:
    """Keep in the session the token pair identity answered to a change made with the session's
    own access token: a new password ends every sign-in of the person, this session's included,
    and hands the device that changed it a new pair. False when ``body`` holds no usable pair."""
    grant = _grant_from_body(body)
    if grant is None:
        return False
    request.session[SESSION_TOKENS_KEY] = _tokens_data(grant)
    request.session[SESSION_PRINCIPAL_KEY] = _principal_data(grant.principal)
    request.session.save()
    return True


def sign_in_with_tokens(request: HttpRequest, body: Any) -> bool:
    """Sign this browser in with the token pair identity answered to a request that signs its
    person in without a password check here (accepting an invitation, setting a new password
    with a reset code), exactly as a sign-in with the password would. False when ``body`` holds
    no usable pair."""
    grant = _grant_from_body(body)
    if grant is None:
        return False
    user = _local_user(grant.principal)
    setattr(user, _GRANT_ATTRIBUTE, grant)
    login(request, user, backend=f"{IdentityBackend.__module__}.{IdentityBackend.__qualname__}")
    return True


def _refreshed(refresh: str) -> _Grant | None:
    try:
        response = requests.post(
            _identity_url(REFRESH_PATH),
            json={"refresh": refresh},
            headers={"Accept": "application/json"},
            timeout=IDENTITY_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise IdentityUnavailable(type(exc).__name__) from exc
    if response.status_code in (400, 401):
        return None
    if response.status_code != 200:
        raise IdentityUnavailable(f"identity answered {response.status_code}")
    grant = _grant_from(response)
    if grant is None:
        raise IdentityUnavailable("identity returned an unusable token")
    return grant
