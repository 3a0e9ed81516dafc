from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from kombu import Connection

from shared.db.bulk import insert_all
from shared.events.catalogue import Envelope, subscribers_of, utc_isoformat, validate_envelope
from shared.outbox.models import OutboxEvent, ProcessedEvent

logger = logging.getLogger(__name__)

RELAY_TASK = "shared.outbox.relay"
HANDLE_TASK = "shared.events.handle"
PRUNE_TASK = "shared.outbox.prune"

# Defaults of the settings of the same names. Published rows are kept for republishing; processed
# ids must outlive any redelivery of an event (broker visibility timeout, retries, a republish).
OUTBOX_RETENTION_DAYS = 30
PROCESSED_EVENT_RETENTION_DAYS = 90

# Cost of one batch: its rows stay locked, and one database transaction stays open, while each row
# is sent to every subscriber (a broker round trip each, about a millisecond on a healthy Redis).
# A hundred rows keep that well under a second; a backlog is drained by the task re-queueing
# itself while batches come back full.
RELAY_BATCH_SIZE = 100

# A broker outage must fail a batch fast rather than hold its row locks: kombu's defaults keep
# retrying a connection for several seconds. The beat schedule retries every few seconds anyway.
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
BROKER_CONNECT_OPTIONS: dict[str, Any] = {"max_retries": 0}
LAST_ERROR_LENGTH = 200


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
    with the change it describes. An event the catalogue does not describe (unknown type, wrong
    version, a missing or mistyped ``data`` field, a subject that is not the patient) raises
    ``InvalidEvent``.
    Once the transaction commits, a relay run is requested so the event leaves within moments.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxUsageError(f"{type} must be published inside transaction.atomic()")
    event = OutboxEvent(
        type=type,
        version=version,
        occurred_at=timezone.now(),
        producer=settings.SERVICE_NAME,
        subject=str(subject) if subject else "",
        data=data,
    )
    validate_envelope(event.envelope())
    event.save(using=using, force_insert=True)
    _kick_relay_after_commit(using)
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event for ``event_publish_many``."""

    type: str
    subject: uuid.UUID | str | None
    data: dict[str, Any]
    version: int = 1


def event_publish_many(events: list[NewEvent], *, using: str = "default") -> list[Envelope]:
    """Record ``events`` in the outbox with one multi-row INSERT, inside the caller's transaction;
    return their envelopes.

    The checks of ``event_publish`` (inside ``transaction.atomic``; every envelope against the
    catalogue, all before anything is written) without its database round trip per event: an
    offline sync or a delivery batch publishes hundreds at once. One relay request after commit.
    """
    if not events:
        return []
    if not transaction.get_connection(using).in_atomic_block:
        raise OutboxUsageError("events must be published inside transaction.atomic()")
    occurred_at = timezone.now()
    stamp = utc_isoformat(occurred_at)
    producer = settings.SERVICE_NAME
    rows: list[dict[str, Any]] = []
    envelopes: list[Envelope] = []
    for event in events:
        row = {
            "id": uuid.uuid4(),
            "type": event.type,
            "version": event.version,
            "occurred_at": occurred_at,
            "producer": producer,
            "subject": str(event.subject) if event.subject else "",
            "data": event.data,
        }
        # The envelope exactly as OutboxEvent.envelope() will give it to the relay.
        envelope: Envelope = {**row, "id": str(row["id"]), "occurred_at": stamp}
        validate_envelope(envelope)
        rows.append(row)
        envelopes.append(envelope)
    insert_all(OutboxEvent, rows, using=using)
    _kick_relay_after_commit(using)
    return envelopes


def _kick_relay_after_commit(using: str) -> None:
    # One relay request per transaction, however many events it publishes (an offline sync can
    # publish hundreds): each request costs the producer a broker round trip after its commit.
    # A callback registered in a savepoint that later rolls back is dropped by Django, and any
    # event published in that savepoint goes with it, so checking the pending callbacks is safe.
    pending = transaction.get_connection(using).run_on_commit
    if not any(callback is outbox_relay_kick for _, callback, _ in pending):
        transaction.on_commit(outbox_relay_kick, using=using)


class _KickGate:
    """At most one relay request per interval from this process.

    A request costs the producer a broker connection of its own (milliseconds of CPU on every
    write). Under a burst of writes one request per interval is enough: the relay it starts takes
    every pending row, and whatever commits just after that run's select leaves with the next
    request or the periodic relay (CELERY_BEAT_SCHEDULE, every few seconds).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")

    def open(self, interval: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < interval:
                return False
            self._last = now
            return True

    def reset(self) -> None:
        with self._lock:
            self._last = float("-inf")


relay_kick_gate = _KickGate()


def outbox_relay_kick() -> bool:
    """Ask a worker of this service to run the relay now; return whether the request was sent.

    Runs after the producer's commit, inside its request: a broker outage is logged and swallowed
    (the periodic relay publishes the event later), never raised to the caller.
    """
    app = current_app
    if app.conf.task_always_eager:
        # Eagerly, the relay and the consumers would run here, in the producer's process.
        return False
    if not relay_kick_gate.open(settings.OUTBOX_KICK_INTERVAL_MS / 1000):
        return False
    try:
        # A connection of its own: the pooled one retries for seconds when the broker is down.
        with app.connection_for_write(transport_options=BROKER_CONNECT_OPTIONS) as broker:
            app.send_task(RELAY_TASK, connection=broker, retry=False)
    except Exception as exc:
        logger.warning(
            "outbox relay could not be requested; the periodic relay will publish",
            extra={"error": _short_error(exc)},
        )
        return False
    return True


@dataclass(frozen=True)
class RelayResult:
    claimed: int
    published: int
    failed: bool


def outbox_relay(*, batch_size: int = RELAY_BATCH_SIZE, using: str = "default") -> RelayResult:
    """Publish up to ``batch_size`` pending events to their subscribers' queues, oldest first.

    A row is stamped published only once every subscriber's queue has it. On the first failure
    the row counts an attempt, keeps the error, and the batch stops, so order is kept and a broker
    outage costs one failed send per run. Delivery is at least once: a crash between sending and
    committing sends the batch again, and consumers skip what they have handled.
    """
    with transaction.atomic(using=using):
        pending = (
            OutboxEvent.objects.using(using)
            .filter(published_at__isnull=True)
            .order_by("created_at", "id")
        )
        if connections[using].features.has_select_for_update_skip_locked:
            # Concurrent relays (beat, kicks, several workers) each take different rows.
            pending = pending.select_for_update(skip_locked=True)
        rows = list(pending[:batch_size])
        if not rows:
            return RelayResult(claimed=0, published=0, failed=False)
        published: list[uuid.UUID] = []
        failure: tuple[OutboxEvent, Exception] | None = None
        try:
            app = current_app
            with app.connection_for_write(transport_options=BROKER_CONNECT_OPTIONS) as broker:
                for row in rows:
                    try:
                        for queue in subscribers_of(row.type):
                            _send_to_queue(broker, row.envelope(), queue)
                    except Exception as send_error:
                        failure = (row, send_error)
                        break
                    published.append(row.id)
        except Exception as connection_error:
            # Opening or closing the broker connection failed: charge the first row not sent.
            if failure is None and len(published) < len(rows):
                failure = (rows[len(published)], connection_error)
        if published:
            OutboxEvent.objects.using(using).filter(id__in=published).update(
                published_at=timezone.now()
            )
            logger.info("outbox relay published events", extra={"events": len(published)})
        if failure:
            failed_row, cause = failure
            error = _short_error(cause)
            OutboxEvent.objects.using(using).filter(id=failed_row.id).update(
                attempts=F("attempts") + 1, last_error=error
            )
            logger.warning(
                "outbox relay could not publish an event",
                extra={
                    "event_id": str(failed_row.id),
                    "event_type": failed_row.type,
                    "error": error,
                },
            )
    return RelayResult(claimed=len(rows), published=len(published), failed=failure is not None)


def _send_to_queue(broker: Connection, envelope: Envelope, queue: str) -> None:
    current_app.send_task(
        HANDLE_TASK,
        args=[envelope],
        queue=queue,
        connection=broker,
        retry=True,
        retry_policy=PUBLISH_RETRY_POLICY,
        # Monitoring tools show argsrepr; the event's data stays out of them.
        argsrepr=f"[<{envelope['type']} {envelope['id']}>]",
    )


def _short_error(exc: BaseException) -> str:
    # The exception's class and message only: never the envelope, which can hold health data.
    return f"{type(exc).__name__}: {exc}"[:LAST_ERROR_LENGTH]


def outbox_republish(
    *,
    event_ids: list[uuid.UUID] | None = None,
    since: datetime | None = None,
    type: str | None = None,
    using: str = "default",
) -> int:
    """Mark published events pending again so the relay sends them to every subscriber again.

    For a consumer that gave up on events (its retries ran out during an outage): subscribers that
    did handle them skip the repeat by event id. Returns how many events were re-queued.
    """
    if not event_ids and since is None:
        raise ValueError("name the events to republish: event ids, or a time since when")
    events = OutboxEvent.objects.using(using).filter(published_at__isnull=False)
    if event_ids:
        events = events.filter(id__in=event_ids)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if type:
        events = events.filter(type=type)
    with transaction.atomic(using=using):
        count = events.update(published_at=None, attempts=0, last_error="")
        if count:
            transaction.on_commit(outbox_relay_kick, using=using)
    return count


# Cost of one prune statement: a DELETE of this many rows, short enough that it neither holds
# locks for long nor writes a burst of WAL that replicas lag behind.
PRUNE_BATCH_SIZE = 5000


def outbox_prune(
    *, published_before: datetime, processed_before: datetime, using: str = "default"
) -> tuple[int, int]:
    """Delete published outbox rows and processed-event ids older than the given instants.

    Returns how many (outbox rows, processed ids) were deleted.
    """
    published = OutboxEvent.objects.using(using).filter(published_at__lt=published_before)
    processed = ProcessedEvent.objects.using(using).filter(processed_at__lt=processed_before)
    return _delete_in_batches(published), _delete_in_batches(processed)


def _delete_in_batches(rows: QuerySet[Any]) -> int:
    deleted = 0
    while True:
        batch = list(rows.values_list("pk", flat=True)[:PRUNE_BATCH_SIZE])
        if not batch:
            return deleted
        count, _ = rows.model._default_manager.using(rows.db).filter(pk__in=batch).delete()
        deleted += count
