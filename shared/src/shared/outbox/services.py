from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from celery import current_app
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from kombu import Connection, Producer

from shared.db.bulk import insert_columns, unnest_rows
from shared.events.catalogue import (
    Envelope,
    subscribers_of,
    utc_isoformat,
    validate_envelope,
    validate_envelopes,
)
from shared.outbox.models import OutboxEvent, ProcessedEvent

logger = logging.getLogger(__name__)

RELAY_TASK = "shared.outbox.relay"
HANDLE_TASK = "shared.events.handle"
PRUNE_TASK = "shared.outbox.prune"

# Defaults of the settings of the same names. Published rows are kept for republishing; processed
# ids must outlive any redelivery of an event (broker visibility timeout, retries, a republish).
OUTBOX_RETENTION_DAYS = 30
PROCESSED_EVENT_RETENTION_DAYS = 90

# Cost of one batch: its rows stay locked, and one database transaction stays open, while its
# messages are built and sent to every subscriber (about 0.2 ms of CPU a message; on
# Redis they go in one pipelined round trip). A hundred rows keep that well under a second; a
# backlog is drained by the task re-queueing itself while batches come back full.
RELAY_BATCH_SIZE = 100
# Broker commands one relay batch may hold before they are sent: more than a batch makes (a
# message per subscriber, and a command or two each), so a batch is sent in one go.
RELAY_PIPELINE_COMMANDS = 10_000

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


class NewEvent(NamedTuple):
    """One event for ``event_publish_many`` (a tuple: hundreds are made per batch)."""

    type: str
    subject: uuid.UUID | str | None
    data: dict[str, Any]
    version: int = 1


def _envelopes(events: list[NewEvent]) -> tuple[list[Envelope], datetime]:
    """The envelopes of ``events``, exactly as OutboxEvent.envelope() will give them to the
    relay, checked against the catalogue (``InvalidEvent`` for the first that does not match)."""
    occurred_at = timezone.now()
    stamp = utc_isoformat(occurred_at)
    producer = settings.SERVICE_NAME
    envelopes: list[Envelope] = [
        {
            "id": event_id,
            "type": event.type,
            "version": event.version,
            "occurred_at": stamp,
            "producer": producer,
            "subject": str(event.subject) if event.subject else "",
            "data": event.data,
        }
        for event, event_id in zip(events, _new_ids(len(events)), strict=True)
    ]
    validate_envelopes(envelopes)
    return envelopes, occurred_at


def _new_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as their canonical strings: what ``str(uuid.uuid4())``
    gives, from one read of the system's random source instead of one per id."""
    if count == 1:
        return [str(uuid.uuid4())]
    random = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = random[start : start + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


def _outbox_columns(
    envelopes: list[Envelope], occurred_at: datetime
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    columns: dict[str, list[Any]] = {}
    constants: dict[str, Any] = {"occurred_at": occurred_at, "producer": envelopes[0]["producer"]}
    for name in ("id", "type", "version", "subject", "data"):
        values = [envelope[name] for envelope in envelopes]
        if name in ("type", "version", "subject") and all(v == values[0] for v in values):
            constants[name] = values[0]  # one type, one patient: sent once
        else:
            columns[name] = values
    return columns, constants


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
    envelopes, occurred_at = _envelopes(events)
    columns, constants = _outbox_columns(envelopes, occurred_at)
    insert_columns(OutboxEvent, columns, constants=constants, using=using)
    _kick_relay_after_commit(using)
    return envelopes


@dataclass(frozen=True)
class KeyedEvents:
    """Events to be written by a statement of the caller's, each for one key (e.g. the id of the
    row it describes): see ``events_for_keys``."""

    envelopes: list[Envelope]
    keys: list[Any]
    # A data-modifying statement for the caller's WITH clause, and its parameters.
    insert: str
    params: list[Any]


def events_for_keys(
    events: list[NewEvent],
    keys: list[Any],
    *,
    key_type: str,
    source: str,
    source_key: str,
    using: str = "default",
) -> KeyedEvents:
    """Check ``events`` (one per key) against the catalogue and give the INSERT that records, in
    the outbox, the events whose key the caller's ``source`` (a CTE of the same statement, e.g.
    the RETURNING of the rows it inserted) returns as ``source_key``.

    For a write that is one SQL statement (so one transaction even in autocommit): the row and
    its event commit or roll back together, and an event is recorded only for a row the
    statement actually wrote. After running the statement the caller calls ``events_recorded``.
    ``key_type`` names the keys' SQL type; ``source`` and ``source_key`` are the caller's SQL.
    """
    envelopes, occurred_at = _envelopes(events)
    columns, constants = _outbox_columns(envelopes, occurred_at)
    rows = unnest_rows(
        OutboxEvent,
        columns,
        constants=constants,
        key=("event_key", key_type, keys),
        using=using,
    )
    quote = connections[using].ops.quote_name
    insert = (
        f"INSERT INTO {quote(OutboxEvent._meta.db_table)} {rows.columns} "
        f"{rows.select_from(source)} WHERE {source}.{source_key} = u.event_key"
    )
    return KeyedEvents(envelopes, list(keys), insert, rows.params)


def events_recorded(*, using: str = "default") -> None:
    """A statement of the caller's recorded events (see ``events_for_keys``): ask for a relay run
    once it commits (at once when it was not inside a transaction)."""
    _kick_relay_after_commit(using)


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


class _KickConnection:
    """This process's broker connection for relay requests, opened at the first request and kept.

    Opening a connection costs the producer several milliseconds of CPU (more than the request
    itself), so it is kept between requests; it is opened like the relay's own connection (no
    retries: an outage fails at once). A request that fails on a kept connection (the broker
    restarted, the socket went stale) is tried once more on a new one. The connection belongs to
    the process that opened it and to the broker URL it was opened for.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._owner: tuple[int, str] = (0, "")

    def send(self, app: Any) -> None:
        owner = (os.getpid(), str(app.conf.broker_write_url or app.conf.broker_url))
        with self._lock:
            if self._owner != owner:
                # Another process's socket (after a fork) or another broker: never reuse it.
                self._connection, self._owner = None, owner
            for attempt in (1, 2):
                fresh = self._connection is None
                if self._connection is None:
                    self._connection = app.connection_for_write(
                        transport_options=BROKER_CONNECT_OPTIONS
                    )
                try:
                    app.send_task(RELAY_TASK, connection=self._connection, retry=False)
                    return
                except Exception:
                    self._close()
                    if fresh or attempt == 2:
                        raise

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # A broken connection may fail to close too.
            with contextlib.suppress(Exception):
                connection.release()


_kick_connection = _KickConnection()


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
        _kick_connection.send(app)
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

    A row is stamped published only once every subscriber's queue has it. The batch's messages
    are handed to the broker together (one pipeline on Redis, sent when the last is built); the
    rows are stamped once it has taken them all. On the first failure the row counts an attempt,
    keeps the error, and the batch stops at it (the rows before it still go), so order is kept
    and a broker outage costs one failed send per run; if the broker fails to take the batch, no
    row of it is stamped and the first counts the attempt. Delivery is at least once: a crash
    between sending and committing, or a batch the broker took only in part, sends rows again,
    and consumers skip what they have handled.
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
                producer = app.amqp.Producer(broker, auto_declare=False)
                # Each subscriber's queue is declared once a run, not again with every message.
                for queue in sorted({name for row in rows for name in subscribers_of(row.type)}):
                    producer.maybe_declare(app.amqp.queues[queue])
                handed: list[uuid.UUID] = []
                # (kombu 5.7 added Producer.batch; the type stubs do not know it yet.)
                with producer.batch(max_size=RELAY_PIPELINE_COMMANDS):  # type: ignore[attr-defined]
                    for row in rows:
                        try:
                            for queue in subscribers_of(row.type):
                                _send_to_queue(producer, row.envelope(), queue)
                        except Exception as send_error:
                            failure = (row, send_error)
                            break
                        handed.append(row.id)
                # Leaving the batch sent it: the broker has every message handed to it.
                published = handed
        except Exception as broker_error:
            # Opening the connection or sending the batch failed: no row of it is known to have
            # arrived. Charge the row that failed, or else the first.
            published = []
            if failure is None:
                failure = (rows[0], broker_error)
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


def _send_to_queue(producer: Producer, envelope: Envelope, queue: str) -> None:
    current_app.send_task(
        HANDLE_TASK,
        args=[envelope],
        queue=queue,
        producer=producer,
        declare=[],  # declared by the relay run
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
