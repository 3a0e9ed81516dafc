"""Celery tasks of the outbox, registered in every service (``shared.outbox`` is an installed app).

``shared.outbox.relay`` runs on the producer's own queue (beat every few seconds, and a kick after
each commit that published events). ``shared.events.handle`` runs on each subscriber's queue, in
that service's worker, with that service's handlers and database. ``shared.outbox.prune`` deletes
published rows and processed ids past their retention (hourly from beat is plenty).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shared.events.catalogue import Envelope, InvalidEvent
from shared.events.services import event_handle
from shared.outbox import services
from shared.outbox.services import (
    HANDLE_TASK,
    OUTBOX_RETENTION_DAYS,
    PROCESSED_EVENT_RETENTION_DAYS,
    PRUNE_TASK,
    RELAY_TASK,
    outbox_prune,
    outbox_relay,
    outbox_relay_kick,
)

logger = logging.getLogger(__name__)


@shared_task(name=RELAY_TASK, ignore_result=True)
def relay() -> int:
    result = outbox_relay(batch_size=services.RELAY_BATCH_SIZE)
    if result.published == services.RELAY_BATCH_SIZE and not result.failed:
        # A full batch suggests a backlog: carry on now rather than at the next beat.
        outbox_relay_kick()
    return result.published


@shared_task(
    name=HANDLE_TASK,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
)
def handle(envelope: Envelope) -> None:
    try:
        event_handle(envelope=envelope)
    except InvalidEvent as exc:
        # Retrying cannot fix an envelope the catalogue refuses; log it for the engineer on call.
        event_id = envelope.get("id") if isinstance(envelope, dict) else None
        logger.error(
            "event refused by the catalogue",
            extra={"event_id": str(event_id), "problems": exc.problems},
        )


@shared_task(name=PRUNE_TASK, ignore_result=True)
def prune() -> None:
    now = timezone.now()
    outbox_days = getattr(settings, "OUTBOX_RETENTION_DAYS", OUTBOX_RETENTION_DAYS)
    processed_days = getattr(
        settings, "PROCESSED_EVENT_RETENTION_DAYS", PROCESSED_EVENT_RETENTION_DAYS
    )
    outbox_rows, processed_ids = outbox_prune(
        published_before=now - timedelta(days=outbox_days),
        processed_before=now - timedelta(days=processed_days),
    )
    logger.info("outbox pruned", extra={"outbox_rows": outbox_rows, "processed_ids": processed_ids})
