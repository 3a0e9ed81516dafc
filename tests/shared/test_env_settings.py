"""A missing or malformed setting stops start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from shared.conf import env

REPO = Path(__file__).resolve().parents[2]


def test_missing_required_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOME_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SOME_REQUIRED is required"):
        env.env_str("SOME_REQUIRED")


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (env.env_int, "ten", "not a valid integer"),
        (env.env_bool, "maybe", "not a valid boolean"),
        (env.env_url, "no-scheme-here", "not a valid URL"),
        (env.env_database, "mysql://x/y", "only postgres:// and sqlite:///"),
        (env.env_cache, "memcached://x", "expected redis://"),
    ],
)
def test_malformed_value_is_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
    reader,
    raw: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("SOME_SETTING", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_SETTING=.*{message}"):
        reader("SOME_SETTING")


def test_minimum_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SIZE", "10")
    with pytest.raises(ImproperlyConfigured, match="at least 1024"):
        env.env_int("SOME_SIZE", minimum=1024)


def test_value_can_come_from_a_secret_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    monkeypatch.delenv("SOME_SECRET", raising=False)
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env.env_str("SOME_SECRET") == "s3cr3t-value"


def test_unreadable_secret_file_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SECRET_FILE", "/nonexistent/secret")
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET_FILE='/nonexistent/secret'"):
        env.env_str("SOME_SECRET")


def test_a_service_refuses_to_start_without_its_database_url() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO / "services" / "diary",
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "The environment variable DATABASE_URL is required" in result.stderr
