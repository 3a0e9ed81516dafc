"""Web and admin logins in any service check the password with identity: one account everywhere."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import LazySettings
from django.contrib.auth import get_user_model
from django.test import Client

from shared.auth.backends import SESSION_PRINCIPAL_KEY
from shared.testing.tokens import access_token

CLINIC = uuid.uuid4()
ADMIN_ID = uuid.uuid4()
ACCOUNTS = {
    "clinicadmin@demo.example": ("right-password", ADMIN_ID, ("clinic_admin",)),
}


class IdentityTokenEndpoint:
    """identity's token endpoint on a real local port: tokens for known credentials, 401 else."""

    def __init__(self) -> None:
        self.forwarded_for: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.forwarded_for.append(self.headers.get("X-Forwarded-For", ""))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                account = ACCOUNTS.get(body.get("email", ""))
                if account is None or account[0] != body.get("password"):
                    self.send_response(401)
                    self.end_headers()
                    return
                token = access_token(
                    account[1], roles=account[2], clinic_id=CLINIC, email=body["email"]
                )
                payload = json.dumps({"access": token, "refresh": "r", "token_type": "Bearer"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

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
