from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import LazySettings
from django.core.cache import cache

from outcomes.analytics.frame import frames_forget

# Test modules import their helpers from this directory.
sys.path.insert(0, str(Path(__file__).parent))

from dashboard_client import CLINICIAN, OTHER_CLINICIAN
from dashboard_fakes import ClinicInfo, FakeServices
from helpers import Clinic


@pytest.fixture(autouse=True)
def _test_signing_keys(settings: LazySettings) -> None:
    """Tokens in these tests are signed by a throwaway key that only the test provider knows."""
    settings.JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Cohort results live in this suite's own Redis database; arrays in the process.
    cache.clear()
    frames_forget()
    yield
    cache.clear()
    frames_forget()


# --- The dashboard's view of the other services (dashboard_fakes.py) -------------------------


@pytest.fixture
def fake(settings: LazySettings) -> Iterator[FakeServices]:
    services = FakeServices()
    settings.IDENTITY_URL = services.url
    settings.DIARY_URL = services.url
    settings.REMINDERS_URL = services.url
    yield services
    services.close()


@pytest.fixture
def clinic(fake: FakeServices) -> Clinic:
    clinic = Clinic()
    fake.clinics[clinic.clinic_id] = ClinicInfo("Harbour Spine Clinic", "Europe/London")
    fake.add_account(CLINICIAN, ("clinician",), clinic.clinic_id)
    return clinic


@pytest.fixture
def other(fake: FakeServices) -> Clinic:
    other = Clinic()
    fake.clinics[other.clinic_id] = ClinicInfo("Hill Clinic", "America/New_York")
    fake.add_account(OTHER_CLINICIAN, ("clinician",), other.clinic_id)
    return other
