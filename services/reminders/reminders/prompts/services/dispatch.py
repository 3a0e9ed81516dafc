"""Dispatch: the sweeper claims due prompts and hands them to workers; workers send them.

The sweeper (Celery beat, every REMINDERS_SWEEP_SECONDS) claims due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` on partial indexes, marks them ``sending`` with a claim
token in the same short transaction, and enqueues delivery tasks of 250 ids each. Several
sweepers at once take disjoint rows. A delivery task re-reads its rows by id *and* claim token,
writes one ``Delivery`` row per (prompt, attempt) in its own transaction before sending, sends,
then marks the prompts sent. Whatever dies on the way is picked up:

- a task lost with its worker or with the broker: its prompts keep a claim older than
  REMINDERS_CLAIM_TIMEOUT_SECONDS, which a later sweep claims again under a new token (the old
  task, if it ever runs, finds its token gone and does nothing);
- a task re-run after its worker died mid-send (acks_late, reject_on_worker_lost): it finds the
  delivery rows of the earlier run; where the channel can say whether that send happened it asks,
  else the attempt is recorded as ``unknown`` and not sent again: a patient may miss a push, never
  get two (the prompt stays in the app's list of open prompts either way).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.fields import CharField
from django.utils import timezone

from reminders.channels import registry
from reminders.channels.base import (
    Channel,
    DeviceTarget,
    LookupUnsupported,
    Message,
    Recipient,
    SendResult,
)
from reminders.patients.models import Device, Patient, Preference
from reminders.prompts.models import Delivery, DeliveryStatus, Prompt, PromptStatus
from reminders.prompts.services.events import expired_event, publish_many, sent_event
from reminders.prompts.services.planning import courses_replan_flagged
from reminders.prompts.services.rows import rows_update, rows_update_grouped
from reminders.schedules.plan import next_nudge
from reminders.schedules.timing import zone

logger = logging.getLogger(__name__)

DELIVER_TASK = "reminders.prompts.deliver"
SWEEP_TASK = "reminders.prompts.sweep"

# Cost of one claim: a range scan of the partial index and an UPDATE of this many rows in one
# transaction holding their row locks (a few milliseconds per hundred rows). A thousand keeps the
# transaction around 20 ms, so planning and answering never wait on it for long.
CLAIM_BATCH_SIZE = 1000
# Cost of one delivery task: about a dozen statements and three commits whatever its size
# (delivery rows, events and prompt updates are written in bulk) plus the provider calls. With 100
# ids that fixed part was half of the database time; 250 makes a task about 30% cheaper per
# prompt (a quarter of a second of work), and a lost worker still takes little with it.
DELIVERY_CHUNK_SIZE = 250
# Most prompts one sweep claims: one worker sends them in under a minute at the benchmark's rate,
# well inside the claim timeout. The next sweep takes the rest.
SWEEP_MAX_CLAIMS = 100_000
# Cost of one expiry batch: an UPDATE of this many rows and one outbox row each.
EXPIRE_BATCH_SIZE = 500
# Re-planning flagged courses within a sweep is capped so that dispatch is not held up (a course
# takes a few tens of milliseconds); the re-plan task after a template edit does the bulk.
SWEEP_REPLAN_LIMIT = 25
# A send that no channel could make is tried again after these delays (the last repeats), for
# instance once the patient has registered a phone, until the prompt's window closes.
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))

UNKNOWN_CHANNEL = "unknown"

Dispatcher = Callable[[list[str], str], None]


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def enqueue_delivery(prompt_ids: list[str], claim_token: str) -> None:
    from reminders.prompts.tasks import deliver

    deliver.apply_async(args=(prompt_ids, claim_token), retry=False)


# --- Claiming -----------------------------------------------------------------------------


def due_prompts(now: datetime) -> QuerySet[Prompt]:
    """Due pending prompts, oldest first: the claim query (served by prompt_pending_due_idx)."""
    return Prompt.objects.filter(
        status=PromptStatus.PENDING, due_at__lte=now, expires_at__gt=now
    ).order_by("due_at")


def due_nudges(now: datetime) -> QuerySet[Prompt]:
    return Prompt.objects.filter(
        status=PromptStatus.SENT, next_nudge_at__lte=now, expires_at__gt=now
    ).order_by("next_nudge_at")


def stale_claims(now: datetime) -> QuerySet[Prompt]:
    timeout = timedelta(seconds=_setting("REMINDERS_CLAIM_TIMEOUT_SECONDS", 600))
    return Prompt.objects.filter(
        status=PromptStatus.SENDING, claimed_at__lt=now - timeout
    ).order_by("claimed_at")


def _locked_ids(queryset: QuerySet[Prompt], limit: int) -> list[uuid.UUID]:
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.values_list("id", flat=True)[:limit])


# The claim on PostgreSQL is one statement: the locked range scan of the partial index and the
# update of what it found, with no round trip in between.
_CLAIM_CONDITIONS = {
    "due": (
        "status = 'pending' AND due_at <= %(now)s AND expires_at > %(now)s",
        "due_at",
        "1",
    ),
    "nudge": (
        "status = 'sent' AND next_nudge_at <= %(now)s AND expires_at > %(now)s",
        "next_nudge_at",
        "p.nudges_sent + 2",
    ),
    # The attempt stays: it is the same attempt, its delivery row decides what happened.
    "stale": ("status = 'sending' AND claimed_at < %(stale_before)s", "claimed_at", "p.attempt"),
}


def claim_sql(kind: str) -> str:
    where, order, attempt = _CLAIM_CONDITIONS[kind]
    table = Prompt._meta.db_table
    return (
        f"WITH claimable AS (SELECT id FROM {table} WHERE {where} "  # noqa: S608 - constants
        f"ORDER BY {order} LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
        f"UPDATE {table} AS p SET status = 'sending', claim_token = %(token)s, "
        f"claimed_at = %(now)s, updated_at = %(now)s, attempt = {attempt} "
        "FROM claimable WHERE p.id = claimable.id RETURNING p.id"
    )


def claim_params(*, now: datetime, limit: int, token: uuid.UUID | None = None) -> dict[str, Any]:
    timeout = timedelta(seconds=_setting("REMINDERS_CLAIM_TIMEOUT_SECONDS", 600))
    return {
        "now": now,
        "stale_before": now - timeout,
        "limit": limit,
        "token": str(token or uuid.uuid4()),
    }


def claim_batch(kind: str, *, now: datetime, limit: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    """Claim up to ``limit`` rows of a kind (due, nudge, stale) in one short transaction."""
    token = uuid.uuid4()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(claim_sql(kind), claim_params(now=now, limit=limit, token=token))
            return [uuid.UUID(str(row[0])) for row in cursor.fetchall()], token
    with transaction.atomic():
        if kind == "due":
            ids = _locked_ids(due_prompts(now), limit)
            changes: dict[str, object] = {"attempt": Value(1)}
        elif kind == "nudge":
            ids = _locked_ids(due_nudges(now), limit)
            changes = {"attempt": F("nudges_sent") + 2}
        else:
            ids = _locked_ids(stale_claims(now), limit)
            changes = {}
        if ids:
            Prompt.objects.filter(id__in=ids).update(
                status=PromptStatus.SENDING,
                claim_token=token,
                claimed_at=now,
                updated_at=now,
                **changes,
            )
    return ids, token


def release_claim(prompt_ids: Sequence[str], claim_token: str) -> int:
    """Give claimed prompts back (their task could not be enqueued) for the next sweep."""
    return Prompt.objects.filter(
        id__in=prompt_ids, claim_token=claim_token, status=PromptStatus.SENDING
    ).update(
        status=Case(
            When(attempt__lte=1, then=Value(PromptStatus.PENDING)),
            default=Value(PromptStatus.SENT),
            output_field=CharField(),
        ),
        claim_token=None,
        claimed_at=None,
    )


@dataclass
class SweepResult:
    expired: int = 0
    replanned: int = 0
    reclaimed: int = 0
    claimed: int = 0
    nudges: int = 0
    tasks: int = 0
    released: int = 0
    broker_failed: bool = False


def prompts_sweep(
    *, now: datetime | None = None, dispatch: Dispatcher = enqueue_delivery
) -> SweepResult:
    """One sweep: expire, re-plan flagged courses, take back stale claims, claim due prompts and
    nudges, and hand them to workers in chunks as each claim commits."""
    now = now or timezone.now()
    result = SweepResult()
    result.expired = prompts_expire(now=now)
    result.replanned = courses_replan_flagged(limit=SWEEP_REPLAN_LIMIT, now=now)
    batch = _setting("REMINDERS_CLAIM_BATCH_SIZE", CLAIM_BATCH_SIZE)
    chunk = _setting("REMINDERS_DELIVERY_CHUNK_SIZE", DELIVERY_CHUNK_SIZE)
    budget = _setting("REMINDERS_SWEEP_MAX_CLAIMS", SWEEP_MAX_CLAIMS)
    for kind in ("stale", "due", "nudge"):
        while budget > 0 and not result.broker_failed:
            ids, token = claim_batch(kind, now=now, limit=min(batch, budget))
            if not ids:
                break
            budget -= len(ids)
            count = {"stale": "reclaimed", "due": "claimed", "nudge": "nudges"}[kind]
            setattr(result, count, getattr(result, count) + len(ids))
            _hand_over(ids, token, chunk, dispatch, result)
            if len(ids) < min(batch, budget + len(ids)):
                break
    if result.claimed or result.nudges or result.reclaimed or result.expired:
        logger.info(
            "reminders sweep",
            extra={
                "expired": result.expired,
                "claimed": result.claimed,
                "nudges": result.nudges,
                "reclaimed": result.reclaimed,
                "tasks": result.tasks,
            },
        )
    return result


def _hand_over(
    ids: list[uuid.UUID],
    token: uuid.UUID,
    chunk: int,
    dispatch: Dispatcher,
    result: SweepResult,
) -> None:
    pieces = [[str(i) for i in ids[start : start + chunk]] for start in range(0, len(ids), chunk)]
    for index, piece in enumerate(pieces):
        try:
            dispatch(piece, str(token))
        except Exception as exc:
            # The broker is down: give the rest back now instead of after the claim timeout.
            released = sum(release_claim(rest, str(token)) for rest in pieces[index:])
            result.released += released
            result.broker_failed = True
            logger.warning(
                "delivery tasks could not be enqueued; claims released",
                extra={"released": released, "error": type(exc).__name__},
            )
            return
        result.tasks += 1


# --- Expiry -------------------------------------------------------------------------------


def prompts_expire(*, now: datetime | None = None, limit: int = 100_000) -> int:
    """Close the window of prompts past their expiry. Sent ones publish reminders.prompt.expired
    (the patient was asked and did not answer); ones never sent are closed quietly."""
    now = now or timezone.now()
    total = 0
    while total < limit:
        with transaction.atomic():
            rows = _expire_batch(now)
            publish_many([expired_event(row) for row in rows if row.sent_at is not None])
        total += len(rows)
        if len(rows) < EXPIRE_BATCH_SIZE:
            break
    return total


_EXPIRE_SQL = (
    "WITH closing AS (SELECT id FROM {table} WHERE status IN ('pending', 'sent') "
    "AND expires_at <= %(now)s ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "UPDATE {table} AS p SET status = 'expired', expired_at = p.expires_at, "
    "next_nudge_at = NULL, updated_at = %(now)s FROM closing WHERE p.id = closing.id "
    "RETURNING p.id, p.patient_id, p.clinic_id, p.intended_at, p.expires_at, p.sent_at"
)


def _expire_batch(now: datetime) -> list[Prompt]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _EXPIRE_SQL.format(table=Prompt._meta.db_table),
                {"now": now, "limit": EXPIRE_BATCH_SIZE},
            )
            return [
                Prompt(
                    id=row[0],
                    patient_id=row[1],
                    clinic_id=row[2],
                    intended_at=row[3],
                    expires_at=row[4],
                    expired_at=row[4],
                    sent_at=row[5],
                )
                for row in cursor.fetchall()
            ]
    candidates = Prompt.objects.filter(
        status__in=[PromptStatus.PENDING, PromptStatus.SENT], expires_at__lte=now
    ).order_by("expires_at")
    rows = list(candidates[:EXPIRE_BATCH_SIZE])
    Prompt.objects.filter(id__in=[r.id for r in rows]).update(
        status=PromptStatus.EXPIRED, expired_at=F("expires_at"), next_nudge_at=None, updated_at=now
    )
    for row in rows:
        row.expired_at = row.expires_at
    return rows


# --- Delivery -----------------------------------------------------------------------------


@dataclass
class DeliverResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    expired: int = 0
    already_done: int = 0
    unknown: int = 0
    not_ours: int = 0
    channels: dict[str, int] = field(default_factory=dict)


@dataclass
class _Attempt:
    prompt: Prompt
    delivery: Delivery
    result: SendResult | None = None
    channel: str = ""
    # The send was made by an earlier run (found through the channel's lookup).
    recovered: bool = False


def _recipients(prompts: Iterable[Prompt]) -> dict[uuid.UUID, Recipient]:
    patient_ids = {p.patient_id for p in prompts}
    devices: dict[uuid.UUID, list[DeviceTarget]] = defaultdict(list)
    rows = (
        Device.objects.filter(patient_id__in=patient_ids)
        .order_by("created_at")
        .values_list("patient_id", "id", "platform", "token")
    )
    for patient_id, device_id, platform, token in rows:
        devices[patient_id].append(DeviceTarget(device_id, platform, token))
    contacts = {
        patient_id: (email, phone)
        for patient_id, email, phone in Preference.objects.filter(
            patient_id__in=patient_ids
        ).values_list("patient_id", "email", "phone")
    }
    return {
        patient_id: Recipient(
            patient_id=patient_id,
            devices=tuple(devices.get(patient_id, ())),
            email=contacts.get(patient_id, ("", ""))[0],
            phone=contacts.get(patient_id, ("", ""))[1],
        )
        for patient_id in patient_ids
    }


def _message(prompt: Prompt, locale: str = "") -> Message:
    return Message(
        prompt_id=prompt.id,
        patient_id=prompt.patient_id,
        attempt=prompt.attempt,
        kind=prompt.kind,
        instrument=prompt.instrument,
        expires_at=prompt.expires_at,
        locale=locale,
    )


def _channel_order(prompt: Prompt) -> list[str]:
    names = list(prompt.channels)
    if registry.nothing_configured() and settings.REMINDERS_CONSOLE_WHEN_UNCONFIGURED:
        names.append("console")
    return names


# What a delivery task reads of each prompt: a fraction of the row, for hundreds of rows a task.
DELIVERY_FIELDS = (
    "id",
    "patient_id",
    "clinic_id",
    "injection_id",
    "kind",
    "instrument",
    "timezone",
    "intended_at",
    "due_at",
    "expires_at",
    "status",
    "channels",
    "nudge_after_hours",
    "nudge_max",
    "nudges_sent",
    "quiet_start",
    "quiet_end",
    "attempt",
    "failures",
    "channel",
    "sent_at",
    "last_sent_at",
    "claim_token",
    "claimed_at",
    "next_nudge_at",
)


def prompts_deliver(
    *,
    prompt_ids: Sequence[str | uuid.UUID],
    claim_token: str | uuid.UUID,
    now: datetime | None = None,
) -> DeliverResult:
    """Send the claimed prompts (or nudges) of one task. Safe to run twice with the same
    arguments, and safe to run after its claim was taken back (it then does nothing)."""
    now = now or timezone.now()
    token = uuid.UUID(str(claim_token))
    result = DeliverResult()
    prompts = list(
        Prompt.objects.filter(
            id__in=list(prompt_ids), claim_token=token, status=PromptStatus.SENDING
        ).only(*DELIVERY_FIELDS)
    )
    result.not_ours = len(prompt_ids) - len(prompts)
    live = [p for p in prompts if p.expires_at > now]
    expired = [p for p in prompts if p.expires_at <= now]
    if expired:
        result.expired = _expire_claimed(expired, token, now)
    if not live:
        return result

    run_id = uuid.uuid4()
    deliveries = _write_deliveries(live, token, run_id, now)
    fresh: list[_Attempt] = []
    settled: list[_Attempt] = []
    for prompt in live:
        delivery = deliveries[prompt.id]
        attempt = _Attempt(prompt=prompt, delivery=delivery)
        if delivery.run_id == run_id or _take_over_or_settle(attempt, run_id, token, now):
            fresh.append(attempt)
        else:
            settled.append(attempt)

    patients = {
        patient_id: (active, locale)
        for patient_id, active, locale in Patient.objects.filter(
            id__in={a.prompt.patient_id for a in fresh}
        ).values_list("id", "active", "locale")
    }
    _send(fresh, _recipients(a.prompt for a in fresh), patients)
    _finish(fresh + settled, token, now, result)
    return result


_INSERT_DELIVERIES = (
    "INSERT INTO {table} (prompt_id, attempt, status, claim_token, run_id, channel, "
    "provider_message_id, error, started_at) VALUES {rows} "
    "ON CONFLICT (prompt_id, attempt) DO NOTHING RETURNING id, prompt_id"
)


def _write_deliveries(
    prompts: list[Prompt], token: uuid.UUID, run_id: uuid.UUID, now: datetime
) -> dict[uuid.UUID, Delivery]:
    """Each prompt's delivery row for its current attempt: written now by this run (in its own
    transaction, before anything is sent) or found from an earlier run."""
    ours: dict[uuid.UUID, Delivery] = {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            rows = ", ".join(["(%s, %s, 'sending', %s, %s, '', '', '', %s)"] * len(prompts))
            params: list[Any] = []
            for p in prompts:
                params += [p.id, p.attempt, token, run_id, now]
            with connection.cursor() as cursor:
                cursor.execute(
                    _INSERT_DELIVERIES.format(table=Delivery._meta.db_table, rows=rows), params
                )
                inserted = {uuid.UUID(str(prompt_id)): pk for pk, prompt_id in cursor.fetchall()}
            by_id = {p.id: p for p in prompts}
            for prompt_id, pk in inserted.items():
                ours[prompt_id] = Delivery(
                    id=pk,
                    prompt_id=prompt_id,
                    attempt=by_id[prompt_id].attempt,
                    status=DeliveryStatus.SENDING,
                    claim_token=token,
                    run_id=run_id,
                    started_at=now,
                )
        else:
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        prompt_id=p.id,
                        attempt=p.attempt,
                        status=DeliveryStatus.SENDING,
                        claim_token=token,
                        run_id=run_id,
                        started_at=now,
                    )
                    for p in prompts
                ],
                ignore_conflicts=True,
            )
    missing = [p for p in prompts if p.id not in ours]
    if missing:
        attempts = {p.id: p.attempt for p in missing}
        for delivery in Delivery.objects.filter(prompt_id__in=list(attempts)):
            if attempts[delivery.prompt_id] == delivery.attempt:
                ours[delivery.prompt_id] = delivery
    return ours


def _take_over_or_settle(
    attempt: _Attempt, run_id: uuid.UUID, token: uuid.UUID, now: datetime
) -> bool:
    """An earlier run wrote this attempt's delivery row. Decide whether to send: True to send
    now (the row is ours from here), False when the attempt is settled without sending."""
    delivery = attempt.delivery
    if delivery.status == DeliveryStatus.FAILED:
        # No channel could send last time; this is the retry.
        return _take_over(delivery, run_id, token, now, DeliveryStatus.FAILED)
    if delivery.status != DeliveryStatus.SENDING:
        # Done by the earlier run; only the prompt row was left behind.
        attempt.result = SendResult(
            ok=delivery.status == DeliveryStatus.SENT,
            provider_message_id=delivery.provider_message_id,
        )
        attempt.channel = delivery.channel
        attempt.recovered = True
        return False
    # The earlier run stopped between writing the row and recording the outcome.
    lookups_complete = True
    key = _message(attempt.prompt).idempotency_key
    for name in _channel_order(attempt.prompt):
        channel = registry.channel(name)
        if channel is None:
            continue
        try:
            found = channel.lookup(key)
        except LookupUnsupported:
            lookups_complete = False
            continue
        if found is not None:
            attempt.result = found
            attempt.channel = name
            attempt.recovered = True
            return False
    if lookups_complete:
        # Every channel it could have used says it was not sent: sending is safe.
        return _take_over(delivery, run_id, token, now, DeliveryStatus.SENDING)
    attempt.result = None
    attempt.channel = UNKNOWN_CHANNEL
    attempt.recovered = True
    return False


def _take_over(
    delivery: Delivery, run_id: uuid.UUID, token: uuid.UUID, now: datetime, status: str
) -> bool:
    taken = Delivery.objects.filter(id=delivery.id, status=status, run_id=delivery.run_id).update(
        status=DeliveryStatus.SENDING, run_id=run_id, claim_token=token, started_at=now, error=""
    )
    delivery.run_id = run_id
    return taken == 1


def _send(
    attempts: list[_Attempt],
    recipients: dict[uuid.UUID, Recipient],
    patients: dict[uuid.UUID, tuple[bool, str]],
) -> None:
    """Each prompt through its first channel that is configured and can reach the patient; a
    failed send falls through to the next channel. Sends are grouped by channel, so a provider
    with a batch API gets one call per batch."""
    remaining = {id(a): list(_channel_order(a.prompt)) for a in attempts}
    active = {a.prompt.patient_id for a in attempts if patients.get(a.prompt.patient_id, (0,))[0]}
    pending = [a for a in attempts if a.prompt.patient_id in active]
    for a in attempts:
        if a.prompt.patient_id not in active:
            a.result = SendResult(ok=False, error="patient-inactive")
    while pending:
        by_channel: dict[str, list[_Attempt]] = defaultdict(list)
        unreachable = []
        for a in pending:
            recipient = recipients[a.prompt.patient_id]
            chosen = None
            while remaining[id(a)]:
                name = remaining[id(a)].pop(0)
                channel = registry.channel(name)
                if channel is not None and channel.available() and channel.reaches(recipient):
                    chosen = name
                    break
            if chosen is None:
                if a.result is None:
                    a.result = SendResult(ok=False, error="no-reachable-channel")
                unreachable.append(a)
            else:
                by_channel[chosen].append(a)
        pending = []
        for name, group in by_channel.items():
            channel = registry.channel(name)
            assert channel is not None  # noqa: S101 - chosen above from the registry
            results = _send_group(channel, group, recipients, patients)
            for a, sent in zip(group, results, strict=True):
                a.result = sent
                a.channel = name
                if not sent.ok:
                    pending.append(a)


def _send_group(
    channel: Channel,
    group: list[_Attempt],
    recipients: dict[uuid.UUID, Recipient],
    patients: dict[uuid.UUID, tuple[bool, str]],
) -> list[SendResult]:
    try:
        return channel.send_many(
            [
                (
                    _message(a.prompt, patients[a.prompt.patient_id][1]),
                    recipients[a.prompt.patient_id],
                )
                for a in group
            ]
        )
    except Exception as exc:
        logger.warning(
            "channel failed a batch", extra={"channel": channel.name, "error": type(exc).__name__}
        )
        return [SendResult(ok=False, error=type(exc).__name__)] * len(group)


SENT_FIELDS = (
    "status",
    "sent_at",
    "last_sent_at",
    "channel",
    "nudges_sent",
    "next_nudge_at",
    "failures",
    "claim_token",
    "claimed_at",
    "updated_at",
)
RETRY_FIELDS = (
    "status",
    "due_at",
    "next_nudge_at",
    "failures",
    "claim_token",
    "claimed_at",
    "updated_at",
)


def _finish(attempts: list[_Attempt], token: uuid.UUID, now: datetime, out: DeliverResult) -> None:
    """Record every outcome: delivery rows, prompt rows still claimed by this token, events."""
    if not attempts:
        return
    stale_devices = {d for a in attempts if a.result for d in a.result.stale_device_ids}
    with transaction.atomic():
        # Locked in id order, as planning locks them, so the two never wait on each other
        # in a circle.
        ours = set(
            Prompt.objects.select_for_update()
            .filter(
                id__in=[a.prompt.id for a in attempts],
                claim_token=token,
                status=PromptStatus.SENDING,
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        deliveries: list[Delivery] = []
        sent: list[Prompt] = []
        retried: list[Prompt] = []
        for a in attempts:
            ok = a.result is not None and a.result.ok
            unknown = a.channel == UNKNOWN_CHANNEL
            delivery = a.delivery
            if not a.recovered or delivery.status == DeliveryStatus.SENDING:
                delivery.status = (
                    DeliveryStatus.UNKNOWN
                    if unknown
                    else DeliveryStatus.SENT
                    if ok
                    else DeliveryStatus.FAILED
                )
                delivery.channel = "" if unknown else a.channel
                delivery.provider_message_id = (
                    a.result.provider_message_id[:200] if a.result else ""
                )
                delivery.error = "" if ok or a.result is None else a.result.error[:200]
                delivery.finished_at = now
                deliveries.append(delivery)
            if a.prompt.id not in ours:
                # Answered, cancelled or claimed again meanwhile: the prompt row is not ours.
                out.not_ours += 1
                continue
            if ok or unknown:
                _mark_sent(a.prompt, a.channel, now)
                sent.append(a.prompt)
                if unknown:
                    out.unknown += 1
                elif a.recovered:
                    out.already_done += 1
                else:
                    out.sent += 1
                    out.channels[a.channel] = out.channels.get(a.channel, 0) + 1
            else:
                _schedule_retry(a.prompt, now)
                retried.append(a.prompt)
                out.failed += 1
        rows_update(
            Delivery,
            deliveries,
            ["status", "channel", "provider_message_id", "error", "finished_at"],
        )
        rows_update_grouped(Prompt, sent, SENT_FIELDS)
        rows_update_grouped(Prompt, retried, RETRY_FIELDS)
        publish_many([sent_event(p) for p in sent if p.attempt == 1])
        if stale_devices:
            Device.objects.filter(id__in=stale_devices).delete()


def _mark_sent(prompt: Prompt, channel: str, now: datetime) -> None:
    first = prompt.attempt == 1
    prompt.status = PromptStatus.SENT
    if first:
        prompt.sent_at = now
        prompt.channel = channel
    prompt.last_sent_at = now
    prompt.nudges_sent = max(prompt.attempt - 1, 0)
    quiet = (
        (prompt.quiet_start, prompt.quiet_end)
        if prompt.quiet_start is not None and prompt.quiet_end is not None
        else None
    )
    upcoming = next_nudge(
        last_attempt_at=now,
        nudges_sent=prompt.nudges_sent,
        nudge_after_hours=prompt.nudge_after_hours,
        nudge_max=prompt.nudge_max,
        expires_at=prompt.expires_at,
        tz=zone(prompt.timezone),
        quiet=quiet,
    )
    prompt.next_nudge_at = upcoming.utc if upcoming else None
    prompt.failures = 0
    prompt.claim_token = None
    prompt.claimed_at = None
    prompt.updated_at = now


def _schedule_retry(prompt: Prompt, now: datetime) -> None:
    delay = RETRY_DELAYS[min(prompt.failures, len(RETRY_DELAYS) - 1)]
    prompt.failures += 1
    if prompt.attempt <= 1:
        prompt.status = PromptStatus.PENDING
        prompt.due_at = now + delay
    else:
        # A nudge nobody could send: try it again later, the prompt itself was sent.
        prompt.status = PromptStatus.SENT
        prompt.next_nudge_at = now + delay
    prompt.claim_token = None
    prompt.claimed_at = None
    prompt.updated_at = now


def _expire_claimed(prompts: list[Prompt], token: uuid.UUID, now: datetime) -> int:
    with transaction.atomic():
        rows = list(
            Prompt.objects.select_for_update().filter(
                id__in=[p.id for p in prompts], claim_token=token, status=PromptStatus.SENDING
            )
        )
        for row in rows:
            row.status = PromptStatus.EXPIRED
            row.expired_at = row.expires_at
            row.next_nudge_at = None
            row.claim_token = None
            row.updated_at = now
        rows_update(
            Prompt, rows, ["status", "expired_at", "next_nudge_at", "claim_token", "updated_at"]
        )
        publish_many([expired_event(row) for row in rows if row.sent_at is not None])
    return len(rows)
