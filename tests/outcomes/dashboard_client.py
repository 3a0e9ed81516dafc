"""The dashboard through Django's test client, signed in against the fake services
(dashboard_fakes.py; the fixtures ``fake``, ``clinic`` and ``other`` are in conftest.py)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

from dashboard_fakes import PASSWORD, FakeServices
from django.test import Client
from helpers import T0, Clinic

CLINICIAN = "clinician@clinic.example"
OTHER_CLINICIAN = "clinician@other.example"


def treated_patient(
    clinic: Clinic,
    fake: FakeServices,
    name: str,
    baseline: int = 8,
    later: tuple[int, ...] = (6, 4),
) -> uuid.UUID:
    patient = clinic.enrol()
    fake.add_person(clinic.clinic_id, patient, name)
    clinic.log(patient, T0 - timedelta(days=1), baseline)
    clinic.inject(patient, T0)
    for week, score in enumerate(later, start=1):
        clinic.log(patient, T0 + timedelta(days=7 * week), score)
    return patient


def signed_in(email: str = CLINICIAN, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if csrf:
        client.get("/dashboard/login/")
        token = client.cookies["outcomes_csrftoken"].value
        response = client.post(
            "/dashboard/login/",
            {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
    else:
        response = client.post("/dashboard/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def csrf(client: Client) -> str:
    return client.cookies["outcomes_csrftoken"].value


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the form"
    return match.group(1)


def seen(html: str) -> str:
    """The page's words, tags removed, for asserting what a reader sees."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
