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
from django.db import connection
from django.utils import timezone

from reminders.arrays import pg_array
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

_RECORD_SQL = (
    "INSERT INTO {table} (channel, prompt_id, attempt, idempotency_key, provider_message_id, "
    "worker_pid, recorded_at) SELECT %(channel)s, s.prompt_id, s.attempt, s.key, s.provider_id, "
    "%(pid)s, %(now)s FROM unnest(%(prompts)s::uuid[], %(attempts)s::integer[], "
    "%(keys)s::varchar[], %(provider_ids)s::varchar[]) AS s(prompt_id, attempt, key, provider_id)"
)


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
        messages = [message for message, _ in items]
        provider_ids = [f"rec-{uuid.uuid4().hex}" for _ in messages]
        if connection.vendor == "postgresql":
            # One statement for the batch, as a provider's batch API is one call.
            with connection.cursor() as cursor:
                cursor.execute(
                    _RECORD_SQL.format(table=RecordedSend._meta.db_table),
                    {
                        "channel": self.name,
                        "pid": pid,
                        "now": now,
                        "prompts": pg_array(m.prompt_id for m in messages),
                        "attempts": pg_array(m.attempt for m in messages),
                        "keys": pg_array(m.idempotency_key for m in messages),
                        "provider_ids": pg_array(provider_ids),
                    },
                )
        else:
            RecordedSend.objects.bulk_create(
                RecordedSend(
                    channel=self.name,
                    prompt_id=message.prompt_id,
                    attempt=message.attempt,
                    idempotency_key=message.idempotency_key,
                    provider_message_id=provider_id,
                    worker_pid=pid,
                    recorded_at=now,
                )
                for message, provider_id in zip(messages, provider_ids, strict=True)
            )
        return [SendResult(ok=True, provider_message_id=p) for p in provider_ids]

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
