"""Calling another service as this service: a token from identity's client-credentials grant,
kept until shortly before it expires, and an HTTP session that presents it.

    session = service_session("http://diary:8000")
    response = session.get("/api/diary/v1/internal/export/", params={"page": 2})

Credentials come from SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET (or *_FILE), read from the
settings or the environment at first use, not at start-up: a service that calls no other never
needs them. Create them at identity with ``manage.py identity_service_client --name <service>``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from shared.conf.env import env_str

logger = logging.getLogger(__name__)

SERVICE_TOKEN_PATH = "/api/identity/v1/auth/service-token/"  # noqa: S105 - a URL path
# Asked for again this long before expiry, so a token never expires on its way to the callee
# (a call may wait in a queue, and clocks differ a little).
DEFAULT_REFRESH_MARGIN_SECONDS = 30.0


class ServiceTokenError(Exception):
    """identity did not give a token: unreachable, refused the credentials, or answered nonsense."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ServiceTokenClient:
    """Fetches this service's access token from identity and caches it until shortly before it
    expires. Thread-safe: concurrent callers share one fetch."""

    def __init__(
        self,
        identity_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 5.0,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = identity_url.rstrip("/") + SERVICE_TOKEN_PATH
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"ServiceTokenClient({self._url!r}, client_id={self._client_id!r})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None  # noqa: S101 - _fetch sets it or raises
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after the callee refused it); the next call fetches."""
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        asked_at = self._clock()
        try:
            response = requests.post(
                self._url,
                json={"client_id": self._client_id, "client_secret": self._client_secret},
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise ServiceTokenError(f"identity unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ServiceTokenError(
                f"identity refused a service token ({response.status_code})",
                status_code=response.status_code,
            )
        try:
            body = response.json()
            access, expires_in = str(body["access"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise ServiceTokenError("identity answered without a usable token") from None
        self._token = access
        # Never reuse a token past half its life when the lifetime is shorter than the margin.
        self._refresh_at = asked_at + max(expires_in - self._margin, expires_in / 2)
        logger.info("service token obtained", extra={"expires_in": expires_in})


class ServiceSession(requests.Session):
    """A requests session that presents this service's token on every request, relative to the
    callee's base URL. A 401 makes it fetch a new token and try once more (the token may have
    been revoked, e.g. after the client's secret was rotated)."""

    def __init__(
        self, token_client: ServiceTokenClient, base_url: str = "", *, timeout: float = 10.0
    ) -> None:
        super().__init__()
        self.token_client = token_client
        self.base_url = base_url.rstrip("/") + "/" if base_url else ""
        self.timeout = timeout
        self.headers["Accept"] = "application/json"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if self.base_url:
            target = urljoin(self.base_url, target.lstrip("/"))
        kwargs.setdefault("timeout", self.timeout)
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {self.token_client.token()}"
        response = super().request(method, target, *args, **{**kwargs, "headers": headers})
        if response.status_code == 401:
            # Refused before the callee did anything, so sending it again is safe.
            self.token_client.invalidate()
            headers["Authorization"] = f"Bearer {self.token_client.token()}"
            response = super().request(method, target, *args, **{**kwargs, "headers": headers})
        return response


def _credential(name: str) -> str:
    configured = getattr(settings, name, "")
    return str(configured) if configured else env_str(name, "")


_default_lock = threading.Lock()
_default: dict[tuple[str, str], ServiceTokenClient] = {}


def service_token_client() -> ServiceTokenClient:
    """This service's token client, from SERVICE_CLIENT_ID / SERVICE_CLIENT_SECRET (*_FILE) and
    IDENTITY_URL; one per process, so its token is shared by every caller."""
    client_id = _credential("SERVICE_CLIENT_ID")
    secret = _credential("SERVICE_CLIENT_SECRET")
    if not client_id or not secret:
        raise ImproperlyConfigured(
            "This service has no service credentials: set SERVICE_CLIENT_ID and "
            "SERVICE_CLIENT_SECRET (or SERVICE_CLIENT_SECRET_FILE); create them at identity "
            "with `manage.py identity_service_client --name <service>`."
        )
    key = (settings.IDENTITY_URL, client_id)
    with _default_lock:
        client = _default.get(key)
        if client is None or client._client_secret != secret:
            client = ServiceTokenClient(settings.IDENTITY_URL, client_id, secret)
            _default[key] = client
        return client


def service_session(base_url: str) -> ServiceSession:
    """A session for calls to the service at ``base_url`` (e.g. settings.DIARY_URL)."""
    return ServiceSession(service_token_client(), base_url)
