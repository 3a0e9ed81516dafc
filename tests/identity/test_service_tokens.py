"""Service clients: identity's client-credentials grant gives a service a short-lived token with
the role "service" and nothing else."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from factories import PASSWORD, system_admin
from helpers import API, claims, is_problem
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from identity.authn.authentication import ActiveUserTokenAuthentication
from identity.authn.models import ServiceClient
from shared.audit.models import AuditEntry
from shared.auth.permissions import IsClinician, IsPatient, IsService
from shared.auth.tokens import decode_access_token

pytestmark = pytest.mark.django_db

SERVICE_TOKEN = API + "auth/service-token/"


def create_client(name: str = "outcomes", *extra: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("identity_service_client", "--name", name, *extra, stdout=out)
    return dict(re.findall(r"^(SERVICE_CLIENT_(?:ID|SECRET))=(\S+)$", out.getvalue(), re.M))


def ask(client_id: str, secret: str, **extra: Any) -> Any:
    return APIClient().post(
        SERVICE_TOKEN, {"client_id": client_id, "client_secret": secret}, format="json", **extra
    )


def test_the_command_creates_a_client_and_shows_its_secret_once() -> None:
    printed = create_client("outcomes")

    client = ServiceClient.objects.get(name="outcomes")
    assert printed["SERVICE_CLIENT_ID"] == str(client.id)
    secret = printed["SERVICE_CLIENT_SECRET"]
    assert len(secret) >= 40
    assert secret not in client.secret_hash
    assert AuditEntry.objects.filter(
        action="service_client.create", target_id=str(client.id)
    ).exists()


def test_rotating_replaces_the_secret_at_once() -> None:
    first = create_client("outcomes")
    second = create_client("outcomes")

    assert second["SERVICE_CLIENT_ID"] == first["SERVICE_CLIENT_ID"]
    assert second["SERVICE_CLIENT_SECRET"] != first["SERVICE_CLIENT_SECRET"]
    assert ask(first["SERVICE_CLIENT_ID"], first["SERVICE_CLIENT_SECRET"]).status_code == 401
    assert ask(second["SERVICE_CLIENT_ID"], second["SERVICE_CLIENT_SECRET"]).status_code == 200


def test_the_right_secret_gets_a_service_token_and_no_refresh_token() -> None:
    printed = create_client("outcomes")

    response = ask(printed["SERVICE_CLIENT_ID"], printed["SERVICE_CLIENT_SECRET"])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    assert response["Cache-Control"] == "no-store"
    token = claims(body["access"])
    assert token["sub"] == printed["SERVICE_CLIENT_ID"]
    assert (token["roles"], token["clinic"], token["svc"]) == (["service"], None, "outcomes")
    assert AuditEntry.objects.filter(
        action="auth.service_token", actor_id=printed["SERVICE_CLIENT_ID"]
    ).exists()


def test_a_service_token_passes_only_the_service_permission() -> None:
    printed = create_client("outcomes")
    access = ask(printed["SERVICE_CLIENT_ID"], printed["SERVICE_CLIENT_SECRET"]).json()["access"]

    principal = decode_access_token(access)
    request = Request(APIRequestFactory().get("/"))
    request.user = principal

    assert principal.service_name == "outcomes"
    assert principal.id == uuid.UUID(printed["SERVICE_CLIENT_ID"])
    assert IsService().has_permission(request, None)
    assert not IsPatient().has_permission(request, None)
    assert not IsClinician().has_permission(request, None)


def test_a_wrong_secret_is_refused_and_repeated_failures_lock_the_client() -> None:
    printed = create_client("outcomes")
    client_id = printed["SERVICE_CLIENT_ID"]

    failures = [ask(client_id, "guess-" + str(n)) for n in range(5)]
    locked = ask(client_id, printed["SERVICE_CLIENT_SECRET"])  # even the right secret

    assert all(is_problem(r, 401, "invalid-client") for r in failures)
    assert is_problem(locked, 429, "too-many-attempts")
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    other_address = ask(client_id, printed["SERVICE_CLIENT_SECRET"], REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == 200


def test_an_unknown_or_malformed_client_id_gets_the_same_answer_as_a_wrong_secret() -> None:
    printed = create_client("outcomes")
    for client_id in (str(uuid.uuid4()), "outcomes"):
        response = ask(client_id, printed["SERVICE_CLIENT_SECRET"])
        assert is_problem(response, 401, "invalid-client")


def test_a_deactivated_client_gets_no_token() -> None:
    printed = create_client("outcomes")
    create_client("outcomes", "--deactivate")

    response = ask(printed["SERVICE_CLIENT_ID"], printed["SERVICE_CLIENT_SECRET"])

    assert is_problem(response, 401, "invalid-client")


def test_identity_refuses_a_deactivated_clients_token_at_once() -> None:
    printed = create_client("outcomes")
    access = ask(printed["SERVICE_CLIENT_ID"], printed["SERVICE_CLIENT_SECRET"]).json()["access"]
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {access}"))
    authentication = ActiveUserTokenAuthentication()

    result = authentication.authenticate(request)
    assert result is not None
    assert result[0].service_name == "outcomes"

    create_client("outcomes", "--deactivate")
    with pytest.raises(exceptions.AuthenticationFailed):
        authentication.authenticate(request)


def test_a_client_name_must_be_a_plain_service_name() -> None:
    with pytest.raises(CommandError):
        create_client("Outcomes Service")
    assert not ServiceClient.objects.exists()


def test_the_admin_lists_service_clients_without_their_secret_hash() -> None:
    create_client("outcomes")
    client = ServiceClient.objects.get()
    admin = system_admin()
    browser = Client()
    assert browser.login(username=admin.email, password=PASSWORD)

    listing = browser.get("/admin/identity/authn/serviceclient/")
    detail = browser.get(f"/admin/identity/authn/serviceclient/{client.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    assert "outcomes" in listing.content.decode()
    assert client.secret_hash not in listing.content.decode() + detail.content.decode()
