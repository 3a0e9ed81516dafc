"""Staff see their clinic's name and time zone in their profile: the dashboard shows times in it."""

from __future__ import annotations

import pytest
from factories import ClinicFactory, member, system_admin
from helpers import ME, as_user

pytestmark = pytest.mark.django_db


def test_clinician_profile_names_the_clinic_and_its_time_zone() -> None:
    clinic = ClinicFactory(name="Harbour Spine Clinic", timezone="America/New_York")
    clinician = member("clinician", clinic, timezone="Europe/London")

    body = as_user(clinician.email).get(ME).json()

    assert body["clinic_id"] == str(clinic.id)
    assert body["clinic_name"] == "Harbour Spine Clinic"
    assert body["clinic_timezone"] == "America/New_York"
    # The person's own zone is unchanged: it is theirs, not the clinic's.
    assert body["timezone"] == "Europe/London"


def test_profile_without_a_clinic_has_no_clinic_time_zone() -> None:
    admin = system_admin()

    body = as_user(admin.email).get(ME).json()

    assert body["clinic_id"] is None
    assert body["clinic_name"] is None
    assert body["clinic_timezone"] is None
