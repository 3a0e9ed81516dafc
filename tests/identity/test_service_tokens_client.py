"""shared.auth.service_client: a service's token, fetched from identity, kept until shortly
before it expires, and presented on its calls to other services."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from identity.authn.service_clients import service_client_rotate
from shared.auth.service_client import (
    ServiceSession,
    ServiceTokenClient,
    ServiceTokenError,
    service_session,
    service_token_client,
)
from shared.auth.tokens import decode_access_token

CLIENT_ID = str(uuid.uuid4())
SECRET = "a-long-random-service-secret"


class FakeIdentity:
    """identity's service-token endpoint on a real local port, and a callee that accepts only the
    tokens listed in ``accepted``."""

    def __init__(self, *, expires_in: int = 300, delay: float = 0.0) -> None:
        self.issued: list[str] = []
        self.accepted: set[str] = set()
        self.seen_authorization: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(delay)
                if (body.get("client_id"), body.get("client_secret")) != (CLIENT_ID, SECRET):
                    self._answer(401, {"type": "invalid-client"})
                    return
                token = f"token-{len(outer.issued) + 1}"
                outer.issued.append(token)
                outer.accepted.add(token)
                self._answer(
                    200, {"access": token, "token_type": "Bearer", "expires_in": expires_in}
                )

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization", "")
                outer.seen_authorization.append(authorization)
                if authorization.removeprefix("Bearer ") in outer.accepted:
                    self._answer(200, {"path": self.path})
                else:
                    self._answer(401, {"type": "unauthenticated"})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    server = FakeIdentity()
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_token_is_fetched_once_and_reused_until_shortly_before_it_expires(
    identity: FakeIdentity,
) -> None:
    clock = Clock()
    client = ServiceTokenClient(identity.url, CLIENT_ID, SECRET, refresh_margin=30, clock=clock)

    first = client.token()
    clock.now += 269
    still = client.token()
    clock.now += 1  # 30 seconds before the 300-second token expires
    renewed = client.token()

    assert (first, still, renewed) == ("token-1", "token-1", "token-2")
    assert identity.issued == ["token-1", "token-2"]


def test_concurrent_callers_share_one_fetch() -> None:
    slow = FakeIdentity(delay=0.3)
    try:
        client = ServiceTokenClient(slow.url, CLIENT_ID, SECRET)
        results: list[str] = []
        threads = [
            threading.Thread(target=lambda: results.append(client.token())) for _ in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        slow.close()

    assert results == ["token-1"] * 20
    assert slow.issued == ["token-1"]


def test_refused_credentials_raise_without_revealing_the_secret(identity: FakeIdentity) -> None:
    client = ServiceTokenClient(identity.url, CLIENT_ID, "not-the-secret")

    with pytest.raises(ServiceTokenError) as refused:
        client.token()

    assert refused.value.status_code == 401
    assert "not-the-secret" not in str(refused.value) + repr(client)


def test_unreachable_identity_is_a_service_token_error() -> None:
    client = ServiceTokenClient("http://127.0.0.1:9", CLIENT_ID, SECRET, timeout=1)
    with pytest.raises(ServiceTokenError, match="unreachable"):
        client.token()


def test_the_session_presents_the_token_and_fetches_a_new_one_after_a_401(
    identity: FakeIdentity,
) -> None:
    session = ServiceSession(ServiceTokenClient(identity.url, CLIENT_ID, SECRET), identity.url)
    assert session.get("/api/diary/v1/internal/export/").json() == {
        "path": "/api/diary/v1/internal/export/"
    }
    identity.accepted.clear()  # e.g. the callee no longer trusts the first token

    response = session.get("api/diary/v1/internal/export/", params={"page": 2})

    assert response.status_code == 200
    assert identity.seen_authorization == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


def test_credentials_are_read_from_the_settings_when_first_needed(
    settings: Settings, identity: FakeIdentity
) -> None:
    settings.IDENTITY_URL = identity.url
    settings.SERVICE_CLIENT_ID = ""
    settings.SERVICE_CLIENT_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="SERVICE_CLIENT_ID"):
        service_token_client()

    settings.SERVICE_CLIENT_ID = CLIENT_ID
    settings.SERVICE_CLIENT_SECRET = SECRET
    assert service_session(identity.url).get("/anything").status_code == 200
    assert service_token_client() is service_token_client()  # one token per process


@pytest.mark.django_db(transaction=True)
def test_a_token_from_the_real_identity_verifies_as_a_service(live_server: LiveServer) -> None:
    client, secret = service_client_rotate(name="outcomes")

    token = ServiceTokenClient(live_server.url, str(client.id), secret).token()

    principal = decode_access_token(token)
    assert principal.id == client.id
    assert principal.roles == frozenset({"service"})
    assert principal.service_name == "outcomes"
