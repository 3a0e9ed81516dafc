"""A channel that records every send in the database instead of sending it: for tests and the
benchmark, where separate worker processes send and the test counts what they sent.

It honours idempotency keys the way APNs collapse ids do (``lookup`` tells whether a key was
already sent), and accepts delivery reports signed with the service's secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from reminders.channels.base import (
    CallbackRefused,
    Channel,
    Message,
    Receipt,
    Recipient,
    SendResult,
)
from reminders.channels.models import RecordedSend

SIGNATURE_HEADER = "HTTP_X_RECORDING_SIGNATURE"


def callback_signature(body: bytes) -> str:
    return hmac.new(str(settings.SECRET_KEY).encode(), body, hashlib.sha256).hexdigest()


class RecordingChannel(Channel):
    supports_lookup = True

    def send(self, message: Message, recipient: Recipient) -> SendResult:
        return self.send_many([(message, recipient)])[0]

    def send_many(self, items: Sequence[tuple[Message, Recipient]]) -> list[SendResult]:
        delay = settings.REMINDERS_RECORDING_DELAY_MS
        if delay:
            time.sleep(delay * len(items) / 1000)
        now = timezone.now()
        pid = os.getpid()
        rows = [
            RecordedSend(
                channel=self.name,
                prompt_id=message.prompt_id,
                attempt=message.attempt,
                idempotency_key=message.idempotency_key,
                provider_message_id=f"rec-{uuid.uuid4().hex}",
                worker_pid=pid,
                recorded_at=now,
            )
            for message, _ in items
        ]
        RecordedSend.objects.bulk_create(rows)
        return [SendResult(ok=True, provider_message_id=row.provider_message_id) for row in rows]

    def lookup(self, idempotency_key: str) -> SendResult | None:
        row = RecordedSend.objects.filter(idempotency_key=idempotency_key).first()
        if row is None:
            return None
        return SendResult(ok=True, provider_message_id=row.provider_message_id)

    def receipts(self, request: Any) -> list[Receipt]:
        body: bytes = request.body
        expected = callback_signature(body)
        if not hmac.compare_digest(expected, request.META.get(SIGNATURE_HEADER, "")):
            raise CallbackRefused(self.name)
        try:
            items = json.loads(body)
            return [
                Receipt(
                    provider_message_id=str(item["provider_message_id"]),
                    event=str(item["event"]),
                    at=datetime.fromisoformat(item["at"]) if item.get("at") else timezone.now(),
                )
                for item in items
            ]
        except (ValueError, KeyError, TypeError):
            raise CallbackRefused(self.name) from None
