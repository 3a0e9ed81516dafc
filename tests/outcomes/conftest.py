from __future__ import annotations

import pytest
from django.conf import LazySettings


@pytest.fixture(autouse=True)
def _test_signing_keys(settings: LazySettings) -> None:
    """Tokens in these tests are signed by a throwaway key that only the test provider knows."""
    settings.JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"
