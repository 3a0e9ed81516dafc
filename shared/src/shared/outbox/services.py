from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.outbox.models import OutboxEvent


class OutboxUsageError(RuntimeError):
    """An event was published outside the transaction of the change it describes."""


def event_publish(
    *,
    type: str,
    subject: uuid.UUID | str | None,
    data: dict[str, Any],
    version: int = 1,
    using: str = "default",
) -> OutboxEvent:
    """Record an event in the outbox, inside the caller's transaction.

    Called outside ``transaction.atomic`` it refuses: an event must commit or roll back together
    with the change it describes.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxUsageError(f"{type} must be published inside transaction.atomic()")
    event = OutboxEvent.objects.using(using).create(
        type=type,
        version=version,
        occurred_at=timezone.now(),
        producer=settings.SERVICE_NAME,
        subject=str(subject) if subject else "",
        data=data,
    )
    return event
