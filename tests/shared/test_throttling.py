"""Rate limits on this suite's real Redis: writes per caller, requests per address without a
token, exact under concurrency, answered 429 with Retry-After."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import LazySettings
from rest_framework.test import APIClient

from shared.testing.tokens import access_token

API = "/api/sharedtest/v1/"
REPO = Path(__file__).resolve().parents[2]
# Mid-window of an hour-long window: a test cannot straddle two windows.
MID_HOUR = datetime(2026, 3, 2, 10, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_mid_window() -> Iterator[None]:
    with time_machine.travel(MID_HOUR, tick=False):
        yield


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def as_caller(user_id: uuid.UUID) -> APIClient:
    return bearer(access_token(user_id))


def post_echo(client: APIClient) -> Any:
    return client.post(f"{API}echo/", {"score": 4}, format="json")


def test_writes_over_the_limit_are_refused_with_retry_after(settings: LazySettings) -> None:
    settings.RATE_LIMIT_USER_WRITES = "3/hour"
    client = as_caller(uuid.uuid4())

    statuses = [post_echo(client).status_code for _ in range(3)]
    refused = post_echo(client)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    # The window ends on the hour: 40 minutes from MID_HOUR.
    assert refused["Retry-After"] == str(40 * 60)


def test_the_limit_is_exact_under_concurrent_requests(settings: LazySettings) -> None:
    settings.RATE_LIMIT_USER_WRITES = "10/hour"
    token = access_token(uuid.uuid4())  # minted before the threads start: one signing key

    def attempt(_: int) -> int:
        return int(post_echo(bearer(token)).status_code)

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = Counter(pool.map(attempt, range(40)))

    assert statuses == {200: 10, 429: 30}


def test_one_callers_limit_does_not_touch_another(settings: LazySettings) -> None:
    settings.RATE_LIMIT_USER_WRITES = "2/hour"
    first, second = as_caller(uuid.uuid4()), as_caller(uuid.uuid4())
    for _ in range(2):
        post_echo(first)

    assert post_echo(first).status_code == 429
    assert post_echo(second).status_code == 200


def test_reads_are_not_counted_against_the_write_limit(settings: LazySettings) -> None:
    settings.RATE_LIMIT_USER_WRITES = "2/hour"
    client = as_caller(uuid.uuid4())

    reads = [client.get(f"{API}patients-only/").status_code for _ in range(5)]
    writes = [post_echo(client).status_code for _ in range(3)]

    assert reads == [200] * 5
    assert writes == [200, 200, 429]


def test_callers_without_a_token_are_limited_per_client_address(settings: LazySettings) -> None:
    settings.RATE_LIMIT_ANON = "3/hour"
    client = APIClient()
    # Fresh addresses each run: the frozen clock puts every run in the same window.
    here, elsewhere = (f"2001:db8::{uuid.uuid4().hex[:4]}:{n}" for n in (1, 2))

    statuses = [client.get(f"{API}ping/", REMOTE_ADDR=here).status_code for _ in range(3)]
    refused = client.post(f"{API}ping/", REMOTE_ADDR=here)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert client.get(f"{API}ping/", REMOTE_ADDR=elsewhere).status_code == 200


def test_the_next_window_admits_the_caller_again(settings: LazySettings) -> None:
    settings.RATE_LIMIT_USER_WRITES = "2/min"
    client = as_caller(uuid.uuid4())
    this_window = [post_echo(client).status_code for _ in range(3)]
    with time_machine.travel(MID_HOUR.replace(minute=21), tick=False):
        next_window = [post_echo(client).status_code for _ in range(3)]

    assert this_window == [200, 200, 429]
    assert next_window == [200, 200, 429]


def test_a_malformed_rate_stops_the_service_from_starting() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO / "services" / "diary",
        env={**os.environ, "RATE_LIMIT_USER_WRITES": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "RATE_LIMIT_USER_WRITES='lots' is not a rate" in result.stderr
