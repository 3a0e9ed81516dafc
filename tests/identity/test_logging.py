"""Nothing secret reaches the logs: not the password, not the tokens, not the invitation code."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from factories import PASSWORD, member
from helpers import ACCEPT, API, INVITATIONS, LOGOUT, ME, USERS, as_user, login, refresh
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def emitted_logs() -> Iterator[io.StringIO]:
    """Everything the configured handlers write (with their formatter and filters)."""
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    previous = [(h, h.setStream(buffer)) for h in handlers]
    level = root.level
    root.setLevel(logging.DEBUG)
    yield buffer
    root.setLevel(level)
    for handler, stream in previous:
        if stream is not None:
            handler.setStream(stream)


def test_login_refresh_and_logout_log_no_secret(
    api_client: APIClient, emitted_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = member("patient")
    login(api_client, user.email, "a-wrong-password-attempt")
    tokens = login(api_client, user.email).json()
    rotated = refresh(api_client, tokens["refresh"]).json()
    refresh(api_client, tokens["refresh"])  # a reuse: logged as a warning
    api_client.post(LOGOUT, {"refresh": rotated["refresh"]}, format="json")

    secrets = [
        PASSWORD,
        "a-wrong-password-attempt",
        tokens["access"],
        tokens["refresh"],
        rotated["access"],
        rotated["refresh"],
    ]
    written = emitted_logs.getvalue()
    raw = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "sign-in failed" in written  # the capture works
    assert "refresh token reused" in written
    for secret in secrets:
        assert secret not in written
        assert secret not in raw


def test_invitation_codes_and_new_passwords_are_not_logged(
    api_client: APIClient, emitted_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clinician = member("clinician")
    code = (
        as_user(clinician.email)
        .post(INVITATIONS, {"email": "n@example.org"}, format="json")
        .json()["code"]
    )
    api_client.post(
        ACCEPT,
        {"code": code, "password": "brand-new-passphrase-1", "timezone": "Europe/London"},
        format="json",
    )
    written = emitted_logs.getvalue()
    raw = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "/invitations/accept/" in written
    for secret in (code, code.replace("-", ""), "brand-new-passphrase-1"):
        assert secret not in written
        assert secret not in raw


def test_password_changes_and_reset_codes_are_not_logged(
    api_client: APIClient, emitted_logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clinician = member("clinician")
    patient = member("patient", clinician.memberships.get().clinic)
    patient_client = as_user(patient.email)
    patient_client.post(
        ME + "password/",
        {"current_password": "a-wrong-current-one", "new_password": "changed-passphrase-1"},
        format="json",
    )
    patient_client.post(
        ME + "password/",
        {"current_password": PASSWORD, "new_password": "changed-passphrase-1"},
        format="json",
    )
    code = as_user(clinician.email).post(f"{USERS}{patient.id}/password-reset/").json()["code"]
    api_client.post(
        API + "password-reset/", {"code": code, "password": "reset-passphrase-2"}, format="json"
    )

    written = emitted_logs.getvalue()
    raw = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "/password-reset/" in written  # the capture works
    secrets = (
        "a-wrong-current-one",
        "changed-passphrase-1",
        code,
        code.replace("-", ""),
        "reset-passphrase-2",
    )
    for secret in secrets:
        assert secret not in written
        assert secret not in raw
