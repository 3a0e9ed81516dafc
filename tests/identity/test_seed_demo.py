"""The demo data: one command, safe to run again."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from helpers import PATIENTS, as_user, claims, tokens_for

from identity.accounts.models import Clinic, Invitation, Membership, User
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "recovery-demo-2026"
SPINE_PATIENTS = [f"patient{number}@demo.example" for number in range(1, 6)]
RIVERSIDE_PATIENTS = [f"riverside.patient{number}@demo.example" for number in range(1, 4)]


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_clinic_and_its_people() -> None:
    output = _seed()

    clinic = Clinic.objects.get(name="Demo Spine Clinic")
    assert clinic.timezone == "Europe/London"
    assert DEMO_PASSWORD not in output
    admin = claims(tokens_for("admin@demo.example", DEMO_PASSWORD)["access"])
    clinic_admin = claims(tokens_for("clinicadmin@demo.example", DEMO_PASSWORD)["access"])
    clinician = claims(tokens_for("clinician@demo.example", DEMO_PASSWORD)["access"])
    assert admin["roles"] == ["system_admin"]
    assert (clinic_admin["roles"], clinic_admin["clinic"]) == (["clinic_admin"], str(clinic.id))
    assert (clinician["roles"], clinician["clinic"]) == (["clinician"], str(clinic.id))
    for email in SPINE_PATIENTS:
        token = claims(tokens_for(email, DEMO_PASSWORD)["access"])
        assert (token["roles"], token["clinic"]) == (["patient"], str(clinic.id))
        patient = User.objects.get(email=email)
        assert patient.timezone == "Europe/London"
        assert patient.sex in {"female", "male", "other"}
        assert patient.birth_year is not None
    enrolled = OutboxEvent.objects.filter(type="identity.patient.enrolled")
    assert {event.data["clinic_id"] for event in enrolled} >= {str(clinic.id)}


def test_seed_demo_makes_a_second_clinic_whose_clinician_sees_only_its_own_patients() -> None:
    _seed()
    riverside = Clinic.objects.get(name="Riverside Pain Clinic")

    clinician = claims(tokens_for("clinician2@demo.example", DEMO_PASSWORD)["access"])
    assert (clinician["roles"], clinician["clinic"]) == (["clinician"], str(riverside.id))
    for email in RIVERSIDE_PATIENTS:
        token = claims(tokens_for(email, DEMO_PASSWORD)["access"])
        assert (token["roles"], token["clinic"]) == (["patient"], str(riverside.id))

    def listed(clinician_email: str) -> set[str]:
        response = as_user(clinician_email, DEMO_PASSWORD).get(PATIENTS)
        assert response.status_code == 200, response.content
        return {row["email"] for row in response.json()["results"]}

    assert listed("clinician2@demo.example") == set(RIVERSIDE_PATIENTS)
    assert listed("clinician@demo.example") == set(SPINE_PATIENTS)
    enrolled = OutboxEvent.objects.filter(type="identity.patient.enrolled")
    assert sorted(event.data["clinic_id"] for event in enrolled).count(str(riverside.id)) == 3


def test_seed_demo_twice_changes_nothing() -> None:
    _seed()
    counts = (
        User.objects.count(),
        Clinic.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        OutboxEvent.objects.count(),
    )
    _seed()
    assert (
        User.objects.count(),
        Clinic.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        OutboxEvent.objects.count(),
    ) == counts
    # An administrator, two clinics' staff (3) and patients (8).
    assert counts[:3] == (12, 2, 11)
