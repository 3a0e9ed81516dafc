from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from identity.authn.keys import key_generate, keys_reset

# Test modules import their helpers (factories, helpers) from this directory.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def signing_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway signing key for the whole run: tests never read or write var/keys."""
    directory = tmp_path_factory.mktemp("signing-keys")
    previous = settings.JWT_SIGNING_KEYS_DIR
    settings.JWT_SIGNING_KEYS_DIR = str(directory)
    keys_reset()
    key_generate(directory)
    yield directory
    settings.JWT_SIGNING_KEYS_DIR = previous
    keys_reset()


@pytest.fixture(autouse=True)
def _test_environment(settings: Settings) -> Iterator[None]:
    # Argon2 is deliberately slow; the tests check logic, not the hash's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TRUSTED_PROXIES = []
    cache.clear()  # lockout counters live in this suite's own Redis database
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
