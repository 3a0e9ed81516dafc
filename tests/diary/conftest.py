from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.conf import LazySettings

# Test modules import their helpers (factories, helpers) from this directory.
sys.path.insert(0, str(Path(__file__).parent))

from helpers import World, make_world


@pytest.fixture(autouse=True)
def _test_signing_keys(settings: LazySettings) -> None:
    """Tokens in these tests are signed by a throwaway key that only the test provider knows."""
    settings.JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"


@pytest.fixture(autouse=True)
def _no_static_files(settings: LazySettings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The API serves no static files; without this every new test client has WhiteNoise scan
    whatever a local collectstatic left in var/static (a fifth of a second each)."""
    settings.STATIC_ROOT = str(tmp_path_factory.getbasetemp() / "no-static")


@pytest.fixture(autouse=True)
def _generous_write_limit(settings: LazySettings) -> None:
    """The suites post far more than a phone would; the limit itself is tested in tests/shared."""
    settings.RATE_LIMIT_USER_WRITES = "100000/min"


@pytest.fixture
def world(db: None) -> World:
    """Two clinics: patients A and B and a clinician and a clinic admin of the first; a clinician of
    the second; a system administrator. The patients are known to the diary (enrolled)."""
    return make_world()
