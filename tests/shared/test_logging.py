"""Log lines are JSON with the request id, and never carry a token, a password or free text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from shared.observability.logging import JsonFormatter, RedactingFilter, RequestContextFilter
from shared.testing.tokens import access_token

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Reads everything logged so far in the test, through the production formatter and filters."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    root.removeHandler(handler)


def test_access_log_line_is_json_with_request_id_and_user(log_lines: LogLines) -> None:
    client = APIClient()
    token = access_token("6f1c1c52-4c8e-4f55-9b55-0c1f7f6a3b10")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/sharedtest/v1/echo/?token=abc", {"score": 2}, format="json")
    assert response.status_code == 200
    lines = log_lines()
    access = [line for line in lines if line["logger"] == "shared.access"]
    assert len(access) == 1
    line = access[0]
    assert line["path"] == "/api/sharedtest/v1/echo/"
    assert line["status"] == 200
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == "6f1c1c52-4c8e-4f55-9b55-0c1f7f6a3b10"
    assert token not in json.dumps(lines)
    assert "abc" not in json.dumps(line)


def test_secrets_and_free_text_are_redacted_whatever_the_logger(log_lines: LogLines) -> None:
    token = access_token()
    logger = logging.getLogger("some.library")
    logger.warning("sending Authorization: Bearer %s", token)
    logger.warning("got %s", token)
    logger.warning(
        "entry saved",
        extra={"password": "hunter2", "note": "my husband hit me", "refresh": "r-123", "score": 7},
    )
    lines = log_lines()
    text = json.dumps(lines)
    for secret in (token, "hunter2", "my husband hit me", "r-123"):
        assert secret not in text
    saved = next(line for line in lines if line["message"] == "entry saved")
    assert saved["score"] == 7
    assert saved["note"] == "[redacted]"
