"""Publishing many events at once: the outbox rows of a batch in one multi-row INSERT.

``shared.outbox.services.event_publish`` writes one row per call, a database round trip each;
an offline sync creating 500 entries would spend most of its time there. This does the same
checks (inside a transaction, every envelope against the catalogue) and writes the rows together,
in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from diary.sync.bulk import insert_all
from shared.events.catalogue import utc_isoformat, validate_envelope
from shared.outbox.models import OutboxEvent
from shared.outbox.services import OutboxUsageError, outbox_relay_kick


@dataclass(frozen=True)
class NewEvent:
    type: str
    subject: uuid.UUID
    data: dict[str, Any]
    version: int = 1


def events_publish(events: list[NewEvent], *, using: str = "default") -> list[dict[str, Any]]:
    """Record ``events`` in the outbox inside the caller's transaction; return their envelopes.

    Refuses outside ``transaction.atomic`` and raises ``InvalidEvent`` for an event the catalogue
    does not describe, before anything is written. One relay request after the commit.
    """
    if not events:
        return []
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxUsageError("events must be published inside transaction.atomic()")
    occurred_at = timezone.now()
    stamp = utc_isoformat(occurred_at)
    producer = settings.SERVICE_NAME
    rows = []
    envelopes = []
    for event in events:
        row = {
            "id": uuid.uuid4(),
            "type": event.type,
            "version": event.version,
            "occurred_at": occurred_at,
            "producer": producer,
            "subject": str(event.subject),
            "data": event.data,
        }
        # The envelope exactly as OutboxEvent.envelope() will give it to the relay.
        envelope = {**row, "id": str(row["id"]), "occurred_at": stamp}
        validate_envelope(envelope)
        rows.append(row)
        envelopes.append(envelope)
    insert_all(OutboxEvent, rows, using=using)
    pending = transaction.get_connection(using).run_on_commit
    if not any(callback is outbox_relay_kick for _, callback, _ in pending):
        transaction.on_commit(outbox_relay_kick, using=using)
    return envelopes
