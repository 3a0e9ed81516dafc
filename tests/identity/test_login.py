"""Signing in with e-mail and password, and what the access token says."""

from __future__ import annotations

import uuid

import jwt
import pytest
from django.conf import settings
from factories import PASSWORD, ClinicFactory, UserFactory, member, system_admin
from helpers import claims, header, is_problem, login
from rest_framework.test import APIClient

from identity.accounts.models import Membership
from identity.authn.keys import signing_key
from shared.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_login_returns_the_token_pair(api_client: APIClient) -> None:
    user = member("patient")

    response = login(api_client, user.email)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.ACCESS_TOKEN_SECONDS
    assert body["refresh"] != body["access"]
    assert response["Cache-Control"] == "no-store"


def test_access_token_carries_exactly_the_contract_claims(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    user = member("clinician", clinic, email="dr.who@example.org")

    token = login(api_client, user.email).json()["access"]

    assert header(token)["alg"] == "RS256"
    assert header(token)["kid"] == signing_key().kid
    payload = jwt.decode(
        token,
        signing_key().public_key,
        algorithms=["RS256"],
        audience=settings.JWT_AUDIENCE,
        issuer=settings.JWT_ISSUER,
    )
    assert set(payload) == {
        "iss",
        "aud",
        "sub",
        "roles",
        "clinic",
        "typ",
        "jti",
        "iat",
        "exp",
        "email",
    }
    assert payload["sub"] == str(user.id)
    assert payload["roles"] == ["clinician"]
    assert payload["clinic"] == str(clinic.id)
    assert payload["typ"] == "access"
    assert payload["email"] == "dr.who@example.org"
    assert payload["exp"] - payload["iat"] == settings.ACCESS_TOKEN_SECONDS


def test_every_token_has_its_own_id(api_client: APIClient) -> None:
    user = member("patient")
    first = claims(login(api_client, user.email).json()["access"])
    second = claims(login(api_client, user.email).json()["access"])
    assert first["jti"] != second["jti"]


def test_roles_of_a_user_with_several_roles_and_a_system_admin(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    admin_and_clinician = member("clinic_admin", clinic)
    Membership.objects.create(user=admin_and_clinician, clinic=clinic, role="clinician")
    sysadmin = system_admin()

    both = claims(login(api_client, admin_and_clinician.email).json()["access"])
    root = claims(login(api_client, sysadmin.email).json()["access"])

    assert both["roles"] == ["clinic_admin", "clinician"]
    assert root["roles"] == ["system_admin"]
    assert root["clinic"] is None


def test_email_is_matched_whatever_its_case(api_client: APIClient) -> None:
    user = member("patient", email="mixed.case@example.org")
    response = login(api_client, "  Mixed.Case@EXAMPLE.org ")
    assert response.status_code == 200
    assert claims(response.json()["access"])["sub"] == str(user.id)


def test_wrong_password_is_refused(api_client: APIClient) -> None:
    user = member("patient")
    response = login(api_client, user.email, "not-the-password")
    assert is_problem(response, 401, "invalid-credentials")
    assert "access" not in response.json()


def test_unknown_email_and_wrong_password_answer_identically(api_client: APIClient) -> None:
    user = member("patient")

    wrong_password = login(api_client, user.email, "not-the-password")
    unknown_email = login(api_client, "nobody@example.org", "not-the-password")

    def comparable(response: object) -> dict[str, object]:
        body = dict(response.json())  # type: ignore[attr-defined]
        body.pop("request_id", None)
        return body

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert comparable(wrong_password) == comparable(unknown_email)


def test_deactivated_user_cannot_sign_in(api_client: APIClient) -> None:
    user = UserFactory(is_active=False)
    assert is_problem(login(api_client, user.email), 401, "invalid-credentials")


def test_successful_login_is_audited(api_client: APIClient) -> None:
    user = member("patient")
    login(api_client, user.email)
    entry = AuditEntry.objects.get(action="auth.login.api")
    assert entry.actor_id == user.id
    assert entry.target_id == str(user.id)


def test_login_input_must_be_well_formed(api_client: APIClient) -> None:
    missing_password = api_client.post(
        "/api/identity/v1/auth/token/", {"email": "a@b.org"}, format="json"
    )
    not_an_email = login(api_client, "not-an-address", PASSWORD)
    extra_field = api_client.post(
        "/api/identity/v1/auth/token/",
        {"email": "a@b.org", "password": PASSWORD, "clinic": str(uuid.uuid4())},
        format="json",
    )
    assert is_problem(missing_password, 400, "validation-error")
    assert is_problem(not_an_email, 400, "validation-error")
    assert is_problem(extra_field, 400, "validation-error")
    assert extra_field.json()["errors"] == [
        {"field": "clinic", "message": "This field is not accepted here."}
    ]
