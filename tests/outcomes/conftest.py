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
