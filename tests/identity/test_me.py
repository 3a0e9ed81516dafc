"""The caller's own profile, and the events a patient's change writes."""

from __future__ import annotations

import pytest
from django.db import transaction
from factories import ClinicFactory, member
from helpers import ME, as_user, is_problem
from rest_framework.test import APIClient

from identity.accounts.models import User
from identity.accounts.services import user_update
from shared.audit.models import AuditEntry
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_me_shows_the_profile_roles_and_clinic() -> None:
    clinic = ClinicFactory()
    user = member("patient", clinic, timezone="Europe/Madrid", locale="es")

    body = as_user(user.email).get(ME).json()

    assert body["id"] == str(user.id)
    assert body["email"] == user.email
    assert body["timezone"] == "Europe/Madrid"
    assert body["locale"] == "es"
    assert body["roles"] == ["patient"]
    assert body["clinic_id"] == str(clinic.id)
    assert "password" not in body


def test_patient_changes_timezone_and_the_change_is_announced() -> None:
    clinic = ClinicFactory()
    user = member("patient", clinic, timezone="Europe/London", locale="en-GB", sex="male")

    response = as_user(user.email).patch(
        ME, {"timezone": "America/New_York", "locale": "en-GB"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["timezone"] == "America/New_York"
    user.refresh_from_db()
    assert user.timezone == "America/New_York"
    event = OutboxEvent.objects.get(type="identity.patient.updated")
    assert event.subject == str(user.id)
    assert event.data == {
        "patient_id": str(user.id),
        "clinic_id": str(clinic.id),
        "timezone": "America/New_York",
        "locale": "en-GB",
        "sex": "male",
        "birth_year": user.birth_year,
        "changed": ["timezone"],
    }
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.actor_id == user.id
    assert entry.changed_fields == ["timezone"]


def test_an_unchanged_value_announces_nothing() -> None:
    user = member("patient", timezone="Europe/London")
    response = as_user(user.email).patch(ME, {"timezone": "Europe/London"}, format="json")
    assert response.status_code == 200
    assert not OutboxEvent.objects.exists()


def test_staff_profile_change_is_not_a_patient_event() -> None:
    clinician = member("clinician")
    response = as_user(clinician.email).patch(ME, {"locale": "de"}, format="json")
    assert response.status_code == 200
    assert not OutboxEvent.objects.exists()


def test_invalid_timezone_is_refused() -> None:
    user = member("patient", timezone="Europe/London")
    client = as_user(user.email)
    for bad in ("CET+1", "Europe/Atlantis", "", "../../etc/passwd", 5):
        response = client.patch(ME, {"timezone": bad}, format="json")
        assert is_problem(response, 400, "validation-error"), bad
    user.refresh_from_db()
    assert user.timezone == "Europe/London"
    assert not OutboxEvent.objects.exists()


def test_invalid_locale_is_refused() -> None:
    user = member("patient")
    response = as_user(user.email).patch(ME, {"locale": "not a locale!"}, format="json")
    assert is_problem(response, 400, "validation-error")


@pytest.mark.parametrize(
    "field",
    ["email", "roles", "clinic_id", "is_staff", "is_superuser", "full_name", "id", "birth_year"],
)
def test_fields_the_caller_may_not_set_are_refused(field: str) -> None:
    user = member("patient", timezone="Europe/London")
    response = as_user(user.email).patch(ME, {"timezone": "Asia/Tokyo", field: "x"}, format="json")
    assert is_problem(response, 400, "validation-error")
    assert response.json()["errors"] == [
        {"field": field, "message": "This field is not accepted here."}
    ]
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.timezone, fresh.is_staff, fresh.email) == ("Europe/London", False, user.email)


def test_me_requires_a_token(api_client: APIClient) -> None:
    assert is_problem(api_client.get(ME), 401)
    assert is_problem(api_client.patch(ME, {"locale": "en"}, format="json"), 401)


def test_the_event_is_written_with_the_change_and_rolled_back_with_it() -> None:
    user = member("patient", timezone="Europe/London")

    written_inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            user_update(actor_id=user.id, user=user, changes={"timezone": "Asia/Tokyo"})
            written_inside.append(
                OutboxEvent.objects.filter(type="identity.patient.updated").count()
            )
            raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert written_inside == [1]

    assert not OutboxEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="user.update").exists()
    assert User.objects.get(pk=user.pk).timezone == "Europe/London"
