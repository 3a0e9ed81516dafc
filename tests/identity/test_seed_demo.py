"""The demo data: one command, safe to run again."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from helpers import claims, tokens_for

from identity.accounts.models import Clinic, Invitation, Membership, User
from shared.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "recovery-demo-2026"


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
    for number in range(1, 6):
        email = f"patient{number}@demo.example"
        token = claims(tokens_for(email, DEMO_PASSWORD)["access"])
        assert (token["roles"], token["clinic"]) == (["patient"], str(clinic.id))
        patient = User.objects.get(email=email)
        assert patient.timezone == "Europe/London"
        assert patient.sex in {"female", "male", "other"}
        assert patient.birth_year is not None
    enrolled = OutboxEvent.objects.filter(type="identity.patient.enrolled")
    assert enrolled.count() == 5
    assert {event.data["clinic_id"] for event in enrolled} == {str(clinic.id)}


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
    assert counts[:3] == (8, 1, 7)
