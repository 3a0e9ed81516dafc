"""The channels behind the one interface: e-mail through a real (local) SMTP server, the
console default, unavailable providers, and delivery reports."""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from helpers import API, is_problem, make_patient, make_prompt, sweep
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from reminders.channels.base import Recipient
from reminders.channels.push import PushChannel
from reminders.channels.recording import SIGNATURE_HEADER, callback_signature
from reminders.channels.sms import SmsChannel
from reminders.patients.services import preference_update
from reminders.prompts.models import Delivery, DeliveryStatus, PromptStatus
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLINIC = uuid.uuid4()


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of SMTP (RFC 5321) for Django's SMTP backend to hand over a message."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server: SmtpServer = self.server  # type: ignore[assignment]
        envelope: dict[str, object] = {"to": []}
        self.reply("220 localhost test SMTP")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                envelope = {"from": command.split(":", 1)[1].strip(" <>"), "to": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip(" <>"))  # type: ignore[union-attr]
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line.decode())
                server.messages.append({**envelope, "data": "".join(lines)})
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.messages: list[dict[str, object]] = []


@pytest.fixture
def smtp(settings: Settings) -> Iterator[SmtpServer]:
    server = SmtpServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_USE_TLS = False
    settings.REMINDERS_EMAIL_FROM = "prompts@clinic.example"
    settings.REMINDERS_CHANNELS = {
        **settings.REMINDERS_CHANNELS,
        "email": "reminders.channels.email.EmailChannel",
    }
    yield server
    server.shutdown()
    server.server_close()


def test_an_email_prompt_reaches_the_smtp_server_without_health_data(smtp: SmtpServer) -> None:
    patient = make_patient(CLINIC, device=False)
    preference_update(patient_id=patient, clinic_id=CLINIC, changes={"email": "pat@example.org"})
    prompt = make_prompt(
        patient, clinic_id=CLINIC, due_at=NOW, channels=("email",), instrument="odi"
    )

    sweep(NOW)

    (message,) = smtp.messages
    assert message["from"] == "prompts@clinic.example"
    assert message["to"] == ["pat@example.org"]
    data = str(message["data"])
    assert "pain-score question" in data
    assert f"Message-ID: <{prompt.id}.1@reminders>" in data
    for private in ("ODI", "Oswestry", "isability", str(patient), "flare", "score:"):
        assert private not in data
    delivery = Delivery.objects.get(prompt=prompt)
    assert (delivery.status, delivery.channel) == (DeliveryStatus.SENT, "email")
    assert published_envelopes("reminders.prompt.sent")[0]["data"]["channel"] == "email"


def test_a_refused_email_falls_back_to_the_next_channel(
    smtp: SmtpServer, settings: Settings
) -> None:
    settings.EMAIL_PORT = 1  # nothing listens there
    patient = make_patient(CLINIC)
    preference_update(patient_id=patient, clinic_id=CLINIC, changes={"email": "pat@example.org"})
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, channels=("email", "push"))

    sweep(NOW)

    prompt.refresh_from_db()
    assert prompt.channel == "push"
    assert smtp.messages == []


@pytest.fixture
def real_channels(settings: Settings) -> None:
    settings.REMINDERS_CHANNELS = {
        "push": "reminders.channels.push.PushChannel",
        "sms": "reminders.channels.sms.SmsChannel",
        "email": "reminders.channels.email.EmailChannel",
        "console": "reminders.channels.console.ConsoleChannel",
    }
    settings.REMINDERS_EMAIL_FROM = ""
    settings.REMINDERS_FCM_CREDENTIALS_FILE = ""
    settings.REMINDERS_WEBPUSH_VAPID_PRIVATE_KEY = ""
    settings.REMINDERS_TWILIO_ACCOUNT_SID = ""


@pytest.mark.usefixtures("real_channels")
def test_push_and_sms_without_credentials_say_they_are_unavailable() -> None:
    recipient = Recipient(uuid.uuid4(), phone="+447700900123")
    assert PushChannel("push").available() is False
    assert SmsChannel("sms").available() is False
    assert SmsChannel("sms").reaches(recipient) is True


@pytest.mark.usefixtures("real_channels")
def test_with_nothing_configured_prompts_go_to_the_log_saying_only_which_prompt(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REMINDERS_CONSOLE_WHEN_UNCONFIGURED = True
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, channels=("push", "sms", "email"))

    with caplog.at_level(logging.INFO, logger="reminders.channels.console"):
        sweep(NOW)

    prompt.refresh_from_db()
    assert (prompt.status, prompt.channel) == (PromptStatus.SENT, "console")
    (record,) = [r for r in caplog.records if r.name == "reminders.channels.console"]
    assert record.getMessage() == "a pain-score prompt was sent to the console"
    assert record.prompt_id == str(prompt.id)  # type: ignore[attr-defined]
    assert str(patient) not in json.dumps(record.__dict__, default=str)


@pytest.mark.usefixtures("real_channels")
def test_where_a_real_channel_is_expected_nothing_goes_to_the_log(settings: Settings) -> None:
    settings.REMINDERS_CONSOLE_WHEN_UNCONFIGURED = False
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW, channels=("push",))

    sweep(NOW)

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.PENDING
    assert Delivery.objects.get(prompt=prompt).error == "no-reachable-channel"


def _report(
    items: list[dict[str, str]], *, signature: str | None = None, channel: str = "push"
) -> object:
    body = json.dumps(items).encode()
    return APIClient().post(
        API + f"channels/{channel}/receipts/",
        data=body,
        content_type="application/json",
        **{SIGNATURE_HEADER: signature if signature is not None else callback_signature(body)},
    )


def test_a_signed_delivery_report_marks_the_prompt_delivered() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    sweep(NOW)
    delivery = Delivery.objects.get(prompt=prompt)

    response = _report(
        [{"provider_message_id": delivery.provider_message_id, "event": "delivered"}]
    )

    assert response.status_code == 204  # type: ignore[attr-defined]
    prompt.refresh_from_db()
    delivery.refresh_from_db()
    assert prompt.delivered_at == NOW
    assert delivery.delivered_at == NOW


def test_unsigned_or_unknown_delivery_reports_are_refused(settings: Settings) -> None:
    settings.REMINDERS_CHANNELS = {
        **settings.REMINDERS_CHANNELS,
        "console": "reminders.channels.console.ConsoleChannel",
    }
    item = [{"provider_message_id": "rec-1", "event": "delivered"}]
    assert is_problem(_report(item, signature="forged"), 403)
    assert is_problem(_report(item, channel="fax"), 404)
    assert is_problem(_report(item, channel="console"), 404)


def test_a_report_for_a_message_we_never_sent_changes_nothing() -> None:
    patient = make_patient(CLINIC)
    prompt = make_prompt(patient, clinic_id=CLINIC, due_at=NOW)
    sweep(NOW + timedelta(seconds=1))

    response = _report([{"provider_message_id": "rec-unknown", "event": "opened"}])

    assert response.status_code == 204  # type: ignore[attr-defined]
    prompt.refresh_from_db()
    assert prompt.opened_at is None
