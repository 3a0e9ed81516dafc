"""An actor of the simulation (a phone, a clinician's browser) talking to the public APIs.

Each actor keeps one pooled HTTP session and its own sign-in. It behaves as a well-written app
would: an expired access token is traded for a new one with the refresh token (and, should that
fail, it signs in again), a 429 waits as long as Retry-After says, and a dropped connection or a
5xx is tried again a few times with a growing pause. Nothing it logs carries a token, a password
or a diary note.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

TIMEOUT = 60.0
RETRIES = 6
# A 429 without Retry-After (it always has one here) waits this long.
DEFAULT_RETRY_AFTER = 2.0
# Never wait longer than this for one 429: a limit per minute resets within a minute.
MAX_RETRY_AFTER = 65.0


class ApiError(RuntimeError):
    def __init__(self, method: str, url: str, response: requests.Response) -> None:
        self.status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:300]
        detail = body.get("detail") if isinstance(body, dict) else body
        # The path only: a query string never holds secrets here, but keep the message short.
        super().__init__(f"{method} {url.split('?', 1)[0]} answered {self.status}: {detail}")
        self.body = body


@dataclass
class Tokens:
    access: str
    refresh: str


@dataclass
class Stats:
    """Requests sent by every actor of a run, counted for the summary."""

    requests: int = 0
    throttled: int = 0
    refreshed: int = 0
    retried: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


def new_session(pool: int = 4) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "clinic-recovery-demo-simulator/1"
    return session


class Actor:
    """One signed-in person on one device."""

    def __init__(
        self,
        identity_api: str,
        *,
        email: str,
        password: str,
        stats: Stats,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.identity_api = identity_api
        self.email = email
        self.password = password
        self.stats = stats
        self.session = new_session()
        self.tokens: Tokens | None = None
        self._sleep = sleep

    # --- signing in ----------------------------------------------------------------------------

    def sign_in(self) -> None:
        data = self.call(
            "POST",
            f"{self.identity_api}auth/token/",
            json={"email": self.email, "password": self.password},
            auth=False,
        )
        self.tokens = Tokens(data["access"], data["refresh"])

    def adopt(self, pair: dict[str, Any]) -> None:
        """Tokens handed out another way (accepting an invitation signs the new account in)."""
        self.tokens = Tokens(pair["access"], pair["refresh"])

    def _refresh(self) -> None:
        if self.tokens is None:
            self.sign_in()
            return
        self.stats.add("refreshed")
        try:
            data = self.call(
                "POST",
                f"{self.identity_api}auth/refresh/",
                json={"refresh": self.tokens.refresh},
                auth=False,
            )
        except ApiError:
            # The sign-in has ended (expired, or revoked): sign in afresh.
            self.sign_in()
            return
        self.tokens = Tokens(data["access"], data["refresh"])

    # --- requests ------------------------------------------------------------------------------

    def get(self, url: str, **params: Any) -> Any:
        return self.call("GET", url, params=params or None)

    def post(self, url: str, body: Any) -> Any:
        return self.call("POST", url, json=body)

    def create(self, url: str, body: Any, *, expect: tuple[int, ...] = ()) -> int:
        """POST a create with a client-chosen id; the status: 201 stored now, 200 stored
        before (a replay), or one of ``expect``."""
        status, _ = self.exchange("POST", url, json=body, expect=expect)
        return status

    def get_all(self, url: str, **params: Any) -> list[Any]:
        """Every row of a paginated list, 200 a page."""
        rows: list[Any] = []
        page = 1
        while True:
            data = self.get(url, page=page, page_size=200, **params)
            rows += data["results"]
            if not data.get("next"):
                return rows
            page += 1

    def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        """The decoded JSON answer (None for an empty one); an error status raises ApiError."""
        return self.exchange(method, url, json=json, params=params, auth=auth)[1]

    def exchange(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        expect: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """(status, decoded JSON answer). An error status not in ``expect`` raises ApiError."""
        refreshed = False
        attempt = 0
        while True:
            if auth and self.tokens is None:
                self.sign_in()
            headers = (
                {"Authorization": f"Bearer {self.tokens.access}"} if auth and self.tokens else {}
            )
            self.stats.add("requests")
            try:
                response = self.session.request(
                    method, url, json=json, params=params, headers=headers, timeout=TIMEOUT
                )
            except requests.ConnectionError:
                attempt += 1
                if attempt > RETRIES:
                    raise
                self.stats.add("retried")
                self._sleep(min(10.0, 0.5 * 2**attempt))
                continue
            status = response.status_code
            if status == 401 and auth and not refreshed:
                # Access tokens live minutes; a long run outlives many of them.
                refreshed = True
                self._refresh()
                continue
            if status == 429:
                self.stats.add("throttled")
                self._sleep(_retry_after(response))
                continue
            if status >= 500 and attempt < RETRIES:
                attempt += 1
                self.stats.add("retried")
                self._sleep(min(10.0, 0.5 * 2**attempt))
                continue
            if status >= 400 and status not in expect:
                raise ApiError(method, url, response)
            return status, _json(response)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _retry_after(response: requests.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    return max(0.5, min(seconds, MAX_RETRY_AFTER))
