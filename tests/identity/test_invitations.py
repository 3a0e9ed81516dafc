"""Invitations: who may invite whom, accepting a code once, expiry, and bad input."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from factories import ClinicFactory, InvitationFactory, invitation_with_code, member, system_admin
from helpers import ACCEPT, API, CLINICS, INVITATIONS, as_user, claims, is_problem
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from identity.accounts.models import Invitation, Membership, User
from shared.audit.models import AuditEntry
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "my-own-recovery-passphrase"


def _accept(client: APIClient, code: str, **fields: object) -> object:
    body = {"code": code, "password": NEW_PASSWORD, "timezone": "Europe/Paris", **fields}
    return client.post(ACCEPT, body, format="json")


def _invite(client: APIClient, **fields: object) -> object:
    return client.post(INVITATIONS, {"email": "new.patient@example.org", **fields}, format="json")


def test_clinician_invites_a_patient_and_sees_the_code_once() -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    client = as_user(clinician.email)

    response = _invite(client, full_name="Ada Lovelace", sex="female", birth_year=1971)

    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "patient"
    assert body["clinic"] == str(clinic.id)
    assert body["state"] == "pending"
    code = body["code"]
    assert len(code.replace("-", "")) >= 12
    invitation = Invitation.objects.get(pk=body["id"])
    assert code not in invitation.code_hash
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    listed = client.get(INVITATIONS).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert "code" not in listed[0]
    assert AuditEntry.objects.filter(action="invitation.create", actor_id=clinician.id).exists()


def test_invitation_lifetime_is_configurable(settings: Settings) -> None:
    settings.INVITATION_SECONDS = 3600
    clinician = member("clinician")
    body = _invite(as_user(clinician.email)).json()
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.expires_at - invitation.created_at == timedelta(hours=1)


def test_accepting_creates_the_patient_signs_in_and_announces_the_enrolment(
    api_client: APIClient,
) -> None:
    clinic = ClinicFactory()
    invitation, code = invitation_with_code(
        clinic=clinic, email="ada@example.org", full_name="Ada L", sex="female", birth_year=1971
    )

    response = _accept(api_client, code, locale="fr-FR")

    assert response.status_code == 201
    tokens = response.json()
    user = User.objects.get(email="ada@example.org")
    assert claims(tokens["access"])["sub"] == str(user.id)
    assert claims(tokens["access"])["roles"] == ["patient"]
    assert claims(tokens["access"])["clinic"] == str(clinic.id)
    assert (user.full_name, user.timezone, user.locale) == ("Ada L", "Europe/Paris", "fr-FR")
    assert (user.sex, user.birth_year) == ("female", 1971)
    assert user.check_password(NEW_PASSWORD)
    event = OutboxEvent.objects.get(type="identity.patient.enrolled")
    assert event.subject == str(user.id)
    assert event.data == {
        "patient_id": str(user.id),
        "clinic_id": str(clinic.id),
        "timezone": "Europe/Paris",
        "locale": "fr-FR",
        "sex": "female",
        "birth_year": 1971,
        "enrolled_at": event.data["enrolled_at"],
    }
    assert event.data["enrolled_at"].endswith("Z")
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_code_is_forgiving_about_case_dashes_and_lookalikes(api_client: APIClient) -> None:
    _, code = invitation_with_code()
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    assert _accept(api_client, typed).status_code == 201


def test_code_can_be_used_once(api_client: APIClient) -> None:
    _, code = invitation_with_code(email="once@example.org")
    assert _accept(api_client, code).status_code == 201

    again = _accept(api_client, code, password="another-long-passphrase")

    assert is_problem(again, 410, "invitation-gone")
    assert User.objects.filter(email="once@example.org").count() == 1
    assert Membership.objects.count() == 1
    assert OutboxEvent.objects.filter(type="identity.patient.enrolled").count() == 1


def test_expired_invitation_is_refused_and_creates_nothing(api_client: APIClient) -> None:
    _, code = invitation_with_code(email="late@example.org")
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1), tick=False):
        response = _accept(api_client, code)
    assert is_problem(response, 410, "invitation-gone")
    assert "expired" in response.json()["detail"]
    assert not User.objects.filter(email="late@example.org").exists()
    assert not OutboxEvent.objects.exists()


def test_revoked_invitation_is_refused(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    client = as_user(clinician.email)
    issued = _invite(client).json()

    revoked = client.post(f"{INVITATIONS}{issued['id']}/revoke/")

    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    assert is_problem(_accept(api_client, issued["code"]), 410, "invitation-gone")


def test_a_new_invitation_replaces_the_open_one(api_client: APIClient) -> None:
    clinician = member("clinician")
    client = as_user(clinician.email)
    first = _invite(client).json()["code"]
    second = _invite(client).json()["code"]
    assert is_problem(_accept(api_client, first), 410, "invitation-gone")
    assert _accept(api_client, second).status_code == 201


def test_unknown_code_is_refused(api_client: APIClient) -> None:
    invitation_with_code()
    assert is_problem(_accept(api_client, "AAAA-BBBB-CCCC-DDDD"), 400, "invalid-invitation")
    assert is_problem(_accept(api_client, "short"), 400, "invalid-invitation")
    assert not User.objects.exists()


def test_invalid_timezone_is_refused_and_the_code_stays_usable(api_client: APIClient) -> None:
    invitation, code = invitation_with_code(email="tz@example.org")

    response = _accept(api_client, code, timezone="Mars/Olympus_Mons")

    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"][0]["field"] == "timezone"
    assert not User.objects.exists()
    assert not Membership.objects.exists()
    assert not OutboxEvent.objects.exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    assert _accept(api_client, code, timezone="Europe/London").status_code == 201


def test_weak_password_is_refused_and_creates_nothing(api_client: APIClient) -> None:
    _, code = invitation_with_code(email="weak@example.org")
    response = _accept(api_client, code, password="12345678")
    assert is_problem(response, 400, "validation-error")
    assert {error["field"] for error in response.json()["errors"]} == {"password"}
    assert not User.objects.exists()


def test_accept_refuses_fields_the_invitation_decides(api_client: APIClient) -> None:
    other_clinic = ClinicFactory()
    _, code = invitation_with_code()
    response = _accept(api_client, code, role="clinic_admin", clinic=str(other_clinic.id))
    assert is_problem(response, 400, "validation-error")
    assert {error["field"] for error in response.json()["errors"]} == {"clinic", "role"}
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_of_one_code_create_one_user() -> None:
    _, code = invitation_with_code(email="race@example.org")
    workers = 4
    barrier = threading.Barrier(workers)

    def attempt(_: int) -> int:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            return int(_accept(client, code).status_code)  # type: ignore[attr-defined]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = sorted(pool.map(attempt, range(workers)))

    assert statuses == [201, 410, 410, 410]
    assert User.objects.filter(email="race@example.org").count() == 1
    assert OutboxEvent.objects.filter(type="identity.patient.enrolled").count() == 1


def test_guessing_codes_from_one_address_is_rate_limited(
    api_client: APIClient, settings: Settings
) -> None:
    settings.INVITATION_ACCEPT_FAILURES_PER_ADDRESS = 3
    _, code = invitation_with_code()
    for index in range(3):
        assert _accept(api_client, f"AAAA-BBBB-CCCC-000{index}").status_code == 400

    locked = _accept(api_client, code)

    assert is_problem(locked, 429, "too-many-attempts")
    assert int(locked["Retry-After"]) > 0
    assert not User.objects.exists()
    other_address = api_client.post(
        ACCEPT,
        {"code": code, "password": NEW_PASSWORD, "timezone": "Europe/London"},
        format="json",
        REMOTE_ADDR="198.51.100.20",
    )
    assert other_address.status_code == 201


def test_patient_cannot_invite() -> None:
    patient = member("patient")
    response = _invite(as_user(patient.email))
    assert is_problem(response, 403, "forbidden")
    assert not Invitation.objects.exists()


def test_clinician_cannot_invite_staff() -> None:
    clinician = member("clinician")
    response = _invite(as_user(clinician.email), role="clinician")
    assert is_problem(response, 403, "forbidden")
    assert not Invitation.objects.exists()


def test_clinic_admin_invites_a_clinician_of_their_own_clinic(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    response = _invite(as_user(admin.email), role="clinician", email="doc@example.org")
    assert response.status_code == 201
    tokens = _accept(api_client, response.json()["code"]).json()
    assert claims(tokens["access"])["roles"] == ["clinician"]
    assert claims(tokens["access"])["clinic"] == str(clinic.id)
    assert not OutboxEvent.objects.filter(type="identity.patient.enrolled").exists()


def test_clinic_admin_alone_cannot_invite_patients() -> None:
    admin = member("clinic_admin")
    assert is_problem(_invite(as_user(admin.email)), 403, "forbidden")


def test_invitation_clinic_comes_from_the_token_not_the_body() -> None:
    own = ClinicFactory()
    other = ClinicFactory()
    clinician = member("clinician", own)
    response = _invite(as_user(clinician.email), clinic=str(other.id))
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"] == [
        {"field": "clinic", "message": "This field is not accepted here."}
    ]
    assert not Invitation.objects.exists()


def test_inviting_an_existing_account_is_a_conflict() -> None:
    clinician = member("clinician")
    existing = member("patient", email="taken@example.org")
    response = _invite(as_user(clinician.email), email=existing.email.upper())
    assert is_problem(response, 409, "email-taken")


def test_clinician_cannot_see_or_revoke_another_clinics_invitation() -> None:
    clinician = member("clinician")
    foreign = InvitationFactory()
    client = as_user(clinician.email)
    assert client.get(INVITATIONS).json()["results"] == []
    assert is_problem(client.post(f"{INVITATIONS}{foreign.id}/revoke/"), 404)


def test_system_admin_invites_the_first_clinic_admin(api_client: APIClient) -> None:
    root = system_admin()
    client = as_user(root.email)
    clinic = client.post(
        CLINICS, {"name": "North Clinic", "timezone": "Europe/Dublin"}, format="json"
    )
    assert clinic.status_code == 201
    clinic_id = clinic.json()["id"]

    response = client.post(
        f"{CLINICS}{clinic_id}/invitations/", {"email": "boss@example.org"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["role"] == "clinic_admin"
    tokens = _accept(api_client, response.json()["code"]).json()
    assert claims(tokens["access"])["roles"] == ["clinic_admin"]
    assert claims(tokens["access"])["clinic"] == clinic_id


def test_only_system_admins_use_the_clinic_invitation_endpoint() -> None:
    clinic = ClinicFactory()
    admin = member("clinic_admin", clinic)
    response = as_user(admin.email).post(
        f"{API}clinics/{clinic.id}/invitations/", {"email": "x@example.org"}, format="json"
    )
    assert is_problem(response, 403, "forbidden")
