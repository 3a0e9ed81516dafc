"""Web and admin logins in any service check the password with identity: one account everywhere.
The sign-in's tokens stay in the server-side session, are refreshed there when they expire, and
logging out ends the sign-in at identity too."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module

import pytest
from django.conf import LazySettings, settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import Client

from shared.auth.backends import (
    SESSION_PRINCIPAL_KEY,
    SESSION_TOKENS_KEY,
    IdentityUnavailable,
    session_access_token,
    session_principal,
    session_tokens_replace,
)
from shared.testing.tokens import access_token

CLINIC = uuid.uuid4()
ADMIN_ID = uuid.uuid4()
ACCOUNTS = {
    "clinicadmin@demo.example": ("right-password", ADMIN_ID, ("clinic_admin",)),
}


class IdentityTokenEndpoint:
    """identity's token, refresh and logout endpoints on a real local port: tokens for known
    credentials, 401 else; refresh tokens are spent on use, as identity's are."""

    def __init__(self) -> None:
        self.forwarded_for: list[str] = []
        self.logged_out: list[str] = []
        self.refreshed: list[str] = []
        self.lifetime = timedelta(minutes=5)
        self.live_refresh: dict[str, str] = {}  # refresh token -> e-mail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, object] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if body is not None:
                    self.wfile.write(json.dumps(body).encode())

            def _pair(self, email: str) -> dict[str, object]:
                account = ACCOUNTS[email]
                refresh = uuid.uuid4().hex
                outer.live_refresh[refresh] = email
                token = access_token(
                    account[1],
                    roles=account[2],
                    clinic_id=CLINIC,
                    email=email,
                    lifetime=outer.lifetime,
                )
                return {"access": token, "refresh": refresh, "token_type": "Bearer"}

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/auth/refresh/"):
                    outer.refreshed.append(body["refresh"])
                    email = outer.live_refresh.pop(body["refresh"], None)
                    self._reply(401) if email is None else self._reply(200, self._pair(email))
                    return
                if self.path.endswith("/auth/logout/"):
                    outer.logged_out.append(body["refresh"])
                    outer.live_refresh.pop(body["refresh"], None)
                    self._reply(204)
                    return
                outer.forwarded_for.append(self.headers.get("X-Forwarded-For", ""))
                account = ACCOUNTS.get(body.get("email", ""))
                if account is None or account[0] != body.get("password"):
                    self._reply(401)
                    return
                self._reply(200, self._pair(body["email"]))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def identity(settings: LazySettings) -> Iterator[IdentityTokenEndpoint]:
    server = IdentityTokenEndpoint()
    settings.IDENTITY_URL = server.url
    yield server
    server.close()


def _login(client: Client, email: str, password: str) -> object:
    return client.post(
        "/admin/sharedtest/login/?next=/admin/sharedtest/",
        {"username": email, "password": password},
        REMOTE_ADDR="198.51.100.7",
    )


@pytest.mark.django_db
def test_admin_login_with_identity_credentials(identity: IdentityTokenEndpoint) -> None:
    client = Client()
    response = _login(client, "clinicadmin@demo.example", "right-password")
    assert response.status_code == 302
    assert response["Location"] == "/admin/sharedtest/"
    user = get_user_model().objects.get(username=str(ADMIN_ID))
    assert user.is_staff
    assert not user.is_superuser
    assert not user.has_usable_password()
    assert client.session[SESSION_PRINCIPAL_KEY]["clinic_id"] == str(CLINIC)
    assert identity.forwarded_for == ["198.51.100.7"]


@pytest.mark.django_db
def test_wrong_password_does_not_log_in(identity: IdentityTokenEndpoint) -> None:
    client = Client()
    response = _login(client, "clinicadmin@demo.example", "wrong")
    assert response.status_code == 200
    assert b"Please enter the correct" in response.content
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_login_fails_closed_when_identity_is_unreachable(settings: LazySettings) -> None:
    settings.IDENTITY_URL = "http://127.0.0.1:1"
    response = _login(Client(), "clinicadmin@demo.example", "right-password")
    assert response.status_code == 200
    assert not get_user_model().objects.exists()


# --- Tokens in the session ----------------------------------------------------------------------


def _signed_in(identity: IdentityTokenEndpoint) -> Client:
    client = Client()
    assert _login(client, "clinicadmin@demo.example", "right-password").status_code == 302
    return client


def _request(client: Client) -> HttpRequest:
    """A request of the client's web session, as a page of the service would see it."""
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()
    request.session = engine.SessionStore(session_key=client.session.session_key)
    request.user = get_user_model().objects.get(username=str(ADMIN_ID))
    return request


@pytest.mark.django_db
def test_tokens_stay_on_the_server_side_of_the_session(identity: IdentityTokenEndpoint) -> None:
    client = _signed_in(identity)

    tokens = client.session[SESSION_TOKENS_KEY]
    assert set(tokens) == {"access", "refresh", "expires_at"}
    assert tokens["refresh"] in identity.live_refresh
    for cookie in client.cookies.values():
        assert tokens["access"] not in cookie.value
        assert tokens["refresh"] not in cookie.value
    principal = session_principal(_request(client))
    assert principal is not None
    assert principal.id == ADMIN_ID
    assert principal.clinic_id == CLINIC
    assert principal.roles == frozenset({"clinic_admin"})


@pytest.mark.django_db
def test_a_fresh_access_token_is_used_as_it_is(identity: IdentityTokenEndpoint) -> None:
    client = _signed_in(identity)
    stored = client.session[SESSION_TOKENS_KEY]

    assert session_access_token(_request(client)) == stored["access"]
    assert identity.refreshed == []


@pytest.mark.django_db
def test_an_expiring_access_token_is_refreshed_once_and_kept(
    identity: IdentityTokenEndpoint,
) -> None:
    identity.lifetime = timedelta(seconds=5)  # inside the refresh margin from the start
    client = _signed_in(identity)
    first = client.session[SESSION_TOKENS_KEY]
    identity.lifetime = timedelta(minutes=5)

    token = session_access_token(_request(client))

    assert token is not None
    assert token != first["access"]
    assert identity.refreshed == [first["refresh"]]
    # Saved at once: the next request of the session finds the new pair, not the spent one.
    kept = client.session[SESSION_TOKENS_KEY]
    assert kept["access"] == token
    assert kept["refresh"] in identity.live_refresh
    assert session_access_token(_request(client)) == token
    assert identity.refreshed == [first["refresh"]]


@pytest.mark.django_db
def test_a_request_that_loaded_the_spent_pair_takes_the_refreshed_one(
    identity: IdentityTokenEndpoint,
) -> None:
    identity.lifetime = timedelta(seconds=5)
    client = _signed_in(identity)
    identity.lifetime = timedelta(minutes=5)
    slow, quick = _request(client), _request(client)
    spent = slow.session[SESSION_TOKENS_KEY]["refresh"]  # read before the other refreshed

    token = session_access_token(quick)

    assert spent not in identity.live_refresh
    assert session_access_token(slow) == token
    assert identity.refreshed == [spent]


@pytest.mark.django_db
def test_a_pair_identity_answered_to_a_change_replaces_the_sessions_own(
    identity: IdentityTokenEndpoint,
) -> None:
    client = _signed_in(identity)
    new_access = access_token(
        ADMIN_ID, roles=("clinic_admin",), clinic_id=CLINIC, email="clinicadmin@demo.example"
    )

    unusable = session_tokens_replace(_request(client), {"access": "not-a-token", "refresh": "x"})
    kept = session_tokens_replace(_request(client), {"access": new_access, "refresh": "r-2"})

    assert not unusable
    assert kept
    assert client.session[SESSION_TOKENS_KEY]["refresh"] == "r-2"
    assert session_access_token(_request(client)) == new_access
    assert session_principal(_request(client)) is not None


@pytest.mark.django_db
def test_an_ended_sign_in_gives_no_token(identity: IdentityTokenEndpoint) -> None:
    identity.lifetime = timedelta(seconds=5)
    client = _signed_in(identity)
    identity.live_refresh.clear()  # e.g. the account was deactivated at identity

    assert session_access_token(_request(client)) is None
    assert SESSION_TOKENS_KEY not in client.session


@pytest.mark.django_db
def test_unreachable_identity_on_refresh_is_not_a_sign_out(
    identity: IdentityTokenEndpoint, settings: LazySettings
) -> None:
    identity.lifetime = timedelta(seconds=5)
    client = _signed_in(identity)
    settings.IDENTITY_URL = "http://127.0.0.1:1"

    with pytest.raises(IdentityUnavailable):
        session_access_token(_request(client))
    assert SESSION_TOKENS_KEY in client.session


@pytest.mark.django_db
def test_logout_ends_the_sign_in_at_identity(identity: IdentityTokenEndpoint) -> None:
    client = _signed_in(identity)
    refresh = client.session[SESSION_TOKENS_KEY]["refresh"]

    response = client.post("/admin/sharedtest/logout/")

    assert response.status_code == 200
    assert identity.logged_out == [refresh]
    assert refresh not in identity.live_refresh
    assert SESSION_TOKENS_KEY not in client.session


@pytest.mark.django_db
def test_tokens_never_reach_the_log(
    identity: IdentityTokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    identity.lifetime = timedelta(seconds=5)
    with caplog.at_level(logging.DEBUG):
        client = _signed_in(identity)
        first = dict(client.session[SESSION_TOKENS_KEY])
        identity.lifetime = timedelta(minutes=5)
        token = session_access_token(_request(client))
        client.post("/admin/sharedtest/logout/")
    text = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert token is not None
    for secret in (first["access"], first["refresh"], token):
        assert secret not in text
