"""One interface for every way a prompt reaches a patient: push, SMS, e-mail, the console.

A channel is told *that* a pain-score prompt is waiting and never what the patient answered
before: the text is the same for everyone ("a short question is waiting in the app"), so no
health data leaves through a provider.

Every send carries an idempotency key (prompt id and attempt). Providers that honour one (APNs
collapse id, Web Push topic) show a repeated send once; ``lookup`` answers whether a key was
sent, where the provider can tell (the recording channel can; most cannot).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Message:
    prompt_id: uuid.UUID
    patient_id: uuid.UUID
    attempt: int
    kind: str
    instrument: str
    expires_at: datetime
    locale: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.prompt_id}:{self.attempt}"

    @property
    def is_nudge(self) -> bool:
        return self.attempt > 1


@dataclass(frozen=True)
class DeviceTarget:
    device_id: uuid.UUID
    platform: str
    token: str


@dataclass(frozen=True)
class Recipient:
    patient_id: uuid.UUID
    devices: tuple[DeviceTarget, ...] = ()
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_message_id: str = ""
    # A short code or the exception's class: never a payload, a token or an address.
    error: str = ""
    # Devices the provider says are gone (app uninstalled): removed after the send.
    stale_device_ids: tuple[uuid.UUID, ...] = field(default=())


@dataclass(frozen=True)
class Receipt:
    """A provider's report on a message it sent: delivered to the device, or opened."""

    provider_message_id: str
    event: str  # "delivered" | "opened"
    at: datetime


class LookupUnsupported(Exception):
    pass


class CallbacksUnsupported(Exception):
    pass


class CallbackRefused(Exception):
    """A callback whose signature does not verify."""


def reaches(name: str, recipient: Recipient) -> bool:
    """Whether a channel of that name has an address for the patient at all."""
    if name == "push":
        return bool(recipient.devices)
    if name == "sms":
        return bool(recipient.phone)
    if name == "email":
        return bool(recipient.email)
    return name == "console"


NOTIFICATION_TITLE = "A short question from your clinic"
NOTIFICATION_BODY = "Please open the app to answer a quick pain-score question."
NUDGE_BODY = "A reminder: a quick pain-score question is still waiting in the app."


def notification_body(message: Message) -> str:
    return NUDGE_BODY if message.is_nudge else NOTIFICATION_BODY


class Channel:
    """Subclasses set ``name`` by construction and implement ``send``."""

    supports_lookup = False

    def __init__(self, name: str) -> None:
        self.name = name

    def available(self) -> bool:
        """Whether this deployment has what the channel needs (credentials, a library)."""
        return True

    def reaches(self, recipient: Recipient) -> bool:
        return reaches(self.name, recipient)

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        raise NotImplementedError

    def send_many(self, items: Sequence[tuple[Message, Recipient]]) -> list[SendResult]:
        """Providers with a batch API override this; the default sends one by one."""
        results = []
        for message, recipient in items:
            try:
                results.append(self.send(message, recipient))
            except Exception as exc:
                results.append(SendResult(ok=False, error=type(exc).__name__))
        return results

    def lookup(self, idempotency_key: str) -> SendResult | None:
        """The earlier send with this key, or None if there was none. Raises
        ``LookupUnsupported`` where the provider cannot tell."""
        raise LookupUnsupported(self.name)

    def receipts(self, request: Any) -> list[Receipt]:
        """Delivery reports in a provider's callback request (verified); raises
        ``CallbacksUnsupported`` or ``CallbackRefused``."""
        raise CallbacksUnsupported(self.name)
