from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


# --- Outbox and event delivery: fixtures live in events_fixtures.py --------------------------
from events_fixtures import as_diary, broker, own_redis  # noqa: E402

__all__ = ["as_diary", "broker", "own_redis"]
