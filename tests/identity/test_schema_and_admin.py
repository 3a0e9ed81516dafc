"""The OpenAPI schema and the administration site."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from factories import PASSWORD, ClinicFactory, InvitationFactory, member, system_admin
from helpers import API
from rest_framework.test import APIClient

from identity.accounts.models import Membership, User
from shared.audit.models import AuditEntry
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in (
        "/auth/token/",
        "/auth/refresh/",
        "/.well-known/jwks.json",
        "/invitations/accept/",
    ):
        assert f"/api/identity/v1{path}" in schema


def test_schema_and_swagger_ui_are_served(api_client: APIClient) -> None:
    assert api_client.get(f"{API}schema/").status_code == 200
    assert api_client.get(f"{API}docs/").status_code == 200


@pytest.fixture
def admin_client_logged_in() -> Client:
    admin = system_admin()
    client = Client()
    assert client.login(username=admin.email, password=PASSWORD)
    return client


@pytest.mark.parametrize(
    "page",
    [
        "accounts/user/",
        "accounts/clinic/",
        "accounts/membership/",
        "accounts/invitation/",
        "audit/auditentry/",
        "accounts/user/add/",
    ],
)
def test_admin_pages_show_no_hashes(admin_client_logged_in: Client, page: str) -> None:
    user = member("patient")
    invitation = InvitationFactory()
    response = admin_client_logged_in.get(f"/admin/identity/{page}")
    assert response.status_code == 200
    content = response.content.decode()
    assert user.password not in content
    assert invitation.code_hash not in content


def test_admin_user_detail_shows_no_password_hash(admin_client_logged_in: Client) -> None:
    user = member("patient")
    response = admin_client_logged_in.get(f"/admin/identity/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert user.password not in response.content.decode()


def test_admin_creates_a_user_through_the_service(admin_client_logged_in: Client) -> None:
    response = admin_client_logged_in.post(
        "/admin/identity/accounts/user/add/",
        {
            "email": "New.Staff@Example.org",
            "full_name": "New Staff",
            "timezone": "Europe/London",
            "locale": "en-GB",
            "password": "a-staff-passphrase-77",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(email="new.staff@example.org")
    assert created.check_password("a-staff-passphrase-77")
    assert AuditEntry.objects.filter(action="user.create", target_id=str(created.id)).exists()


def test_admin_grants_a_patient_role_and_the_enrolment_is_announced(
    admin_client_logged_in: Client,
) -> None:
    clinic = ClinicFactory()
    user = User.objects.create_user("walk-in@example.org", PASSWORD)
    response = admin_client_logged_in.post(
        "/admin/identity/accounts/membership/add/",
        {"user": str(user.pk), "clinic": str(clinic.pk), "role": "patient"},
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=user, clinic=clinic, role="patient").exists()
    assert OutboxEvent.objects.filter(
        type="identity.patient.enrolled", subject=str(user.pk)
    ).exists()


def test_admin_timezone_change_of_a_patient_is_announced(admin_client_logged_in: Client) -> None:
    patient = member("patient", timezone="Europe/London")
    url = f"/admin/identity/accounts/user/{patient.pk}/change/"
    form = {
        "full_name": patient.full_name,
        "timezone": "Asia/Tokyo",
        "locale": patient.locale,
        "sex": patient.sex,
        "birth_year": patient.birth_year,
        "is_staff": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(patient.memberships.get().pk),
        "memberships-0-user": str(patient.pk),
    }
    response = admin_client_logged_in.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(pk=patient.pk).timezone == "Asia/Tokyo"
    event = OutboxEvent.objects.get(type="identity.patient.updated")
    assert event.data["changed"] == ["timezone"]


def _act(client: Client, action: str, *users: User) -> str:
    response = client.post(
        "/admin/identity/accounts/user/",
        {"action": action, "_selected_action": [str(user.pk) for user in users]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def test_admin_actions_deactivate_reactivate_and_erase_through_the_services(
    admin_client_logged_in: Client,
) -> None:
    clinic = ClinicFactory()
    patient = member("patient", clinic)
    clinician = member("clinician", clinic)

    _act(admin_client_logged_in, "deactivate_users", patient, clinician)
    both = User.objects.filter(pk__in=[patient.pk, clinician.pk])
    deactivated = {user.pk: user.is_active for user in both}
    _act(admin_client_logged_in, "reactivate_users", clinician)
    refused = _act(admin_client_logged_in, "erase_patients", patient, clinician)

    assert deactivated == {patient.pk: False, clinician.pk: False}
    assert User.objects.get(pk=clinician.pk).is_active is True
    assert User.objects.get(pk=patient.pk).is_erased
    # The clinician is no patient: refused by name, and the patient's erasure went on.
    assert "Only a patient account (with no staff role) can be erased." in refused
    assert not User.objects.get(pk=clinician.pk).is_erased
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.deactivate", "user.reactivate", "user.erase"} <= actions
    assert OutboxEvent.objects.filter(type="identity.patient.deactivated").count() == 1
    assert OutboxEvent.objects.filter(type="identity.patient.erased").count() == 1
    # An erased patient is never reactivated, not even here.
    assert "An erased account cannot be reactivated." in _act(
        admin_client_logged_in, "reactivate_users", User.objects.get(pk=patient.pk)
    )
