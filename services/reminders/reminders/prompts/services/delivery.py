"""Delivery: a worker sends the prompts of one claim (the sweeper's side is in ``dispatch``).

A delivery task re-reads its prompts by id *and* claim token (a claim taken back since is no
longer its own), writes one ``Delivery`` row per (prompt, attempt), committed *before* anything
is sent, sends through the channels, then marks the prompts sent, schedules the next nudge and
publishes ``reminders.prompt.sent`` (first sends only), in one transaction.

What it costs per task, on PostgreSQL, whatever the number of prompts: one statement reads the
prompts with their patient's status and contact details and inserts the delivery rows
(``ON CONFLICT (prompt_id, attempt) DO NOTHING`` keeps the exactly-once key), one reads the
devices, the channels' calls (one per channel and batch where the provider takes batches), then
one transaction of three statements: the prompts' outcomes (locked in id order, only rows still
claimed by this task), the delivery rows' outcomes, the outbox. Columns travel as arrays
(``unnest``), so a statement is parsed once for the whole batch.

A task re-run after its worker died mid-send (acks_late, reject_on_worker_lost) finds the
delivery rows of the earlier run; where the channel can say whether that send happened it asks,
else the attempt is recorded as ``unknown`` and not sent again: a patient may miss a push, never
get two (the prompt stays in the app's list of open prompts either way).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from reminders.arrays import pg_array
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
from reminders.schedules.plan import next_nudge
from reminders.schedules.timing import zone
from shared.db.update import rows_update

logger = logging.getLogger(__name__)

# A send that no channel could make is tried again after these delays (the last repeats), for
# instance once the patient has registered a phone, until the prompt's window closes.
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))

UNKNOWN_CHANNEL = "unknown"


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


@dataclass(slots=True)
class ClaimedPrompt:
    """What a delivery task reads of one claimed prompt (a fraction of the row) and of its
    patient. Plain values rather than a model instance: a task handles hundreds."""

    id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    injection_id: uuid.UUID | None
    kind: str
    instrument: str
    timezone: str
    intended_at: datetime
    due_at: datetime
    expires_at: datetime
    channels: list[str]
    nudge_after_hours: int | None
    nudge_max: int
    nudges_sent: int
    quiet_start: time | None
    quiet_end: time | None
    attempt: int
    failures: int
    channel: str
    sent_at: datetime | None
    last_sent_at: datetime | None
    next_nudge_at: datetime | None
    status: str = PromptStatus.SENDING
    # The patient's: an inactive (erased) patient gets nothing; contact details for SMS, e-mail.
    active: bool = False
    locale: str = ""
    email: str = ""
    phone: str = ""


# The prompt columns a task reads, in ClaimedPrompt's order.
PROMPT_COLUMNS = (
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
    "next_nudge_at",
)


@dataclass(slots=True)
class _DeliveryRow:
    id: int
    attempt: int
    status: str
    run_id: uuid.UUID
    channel: str = ""
    provider_message_id: str = ""
    error: str = ""


@dataclass(slots=True)
class _Attempt:
    prompt: ClaimedPrompt
    delivery: _DeliveryRow
    result: SendResult | None = None
    channel: str = ""
    # The send was made by an earlier run (found through the channel's lookup).
    recovered: bool = False


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
    ids = [uuid.UUID(str(i)) for i in prompt_ids]
    run_id = uuid.uuid4()
    result = DeliverResult()
    if connection.vendor == "postgresql":
        prompts, deliveries = _read_and_write_deliveries(ids, token, run_id, now)
    else:
        prompts, deliveries = _read_and_write_deliveries_portable(ids, token, run_id, now)
    result.not_ours = len(ids) - len(prompts)
    live = [p for p in prompts if p.expires_at > now]
    expired = [p for p in prompts if p.expires_at <= now]
    if expired:
        result.expired = _expire_claimed(expired, token, now)
    if not live:
        return result
    missing = [p for p in live if p.id not in deliveries]
    if missing:
        deliveries.update(_earlier_deliveries(missing))

    fresh: list[_Attempt] = []
    settled: list[_Attempt] = []
    for prompt in live:
        attempt = _Attempt(prompt=prompt, delivery=deliveries[prompt.id])
        if attempt.delivery.run_id == run_id or _take_over_or_settle(attempt, run_id, token, now):
            fresh.append(attempt)
        else:
            settled.append(attempt)
    _send(fresh, _recipients(a.prompt for a in fresh))
    _finish(fresh + settled, token, now, result)
    return result


# --- Reading the claim, writing the delivery rows -------------------------------------------

_READ_AND_WRITE_SQL = (
    "WITH mine AS (SELECT {columns} FROM {prompts} "
    "WHERE id = ANY(%(ids)s::uuid[]) AND claim_token = %(token)s::uuid AND status = 'sending'), "
    "written AS (INSERT INTO {deliveries} (prompt_id, attempt, status, claim_token, run_id, "
    "channel, provider_message_id, error, started_at) "
    "SELECT id, attempt, 'sending', %(token)s::uuid, %(run)s::uuid, '', '', '', %(now)s "
    "FROM mine WHERE expires_at > %(now)s ORDER BY id "
    "ON CONFLICT (prompt_id, attempt) DO NOTHING RETURNING id, prompt_id) "
    "SELECT mine.*, written.id, patient.active, patient.locale, preference.email, "
    "preference.phone FROM mine LEFT JOIN written ON written.prompt_id = mine.id "
    "LEFT JOIN {patients} AS patient ON patient.id = mine.patient_id "
    "LEFT JOIN {preferences} AS preference ON preference.patient_id = mine.patient_id"
)


def _read_and_write_deliveries(
    ids: list[uuid.UUID], token: uuid.UUID, run_id: uuid.UUID, now: datetime
) -> tuple[list[ClaimedPrompt], dict[uuid.UUID, _DeliveryRow]]:
    """One statement: the prompts still claimed by ``token``, with their patient's details, and
    this run's delivery rows for the live ones (committed at once, before anything is sent).
    A prompt whose row an earlier run wrote comes back without one."""
    sql = _READ_AND_WRITE_SQL.format(
        columns=", ".join(PROMPT_COLUMNS),
        prompts=Prompt._meta.db_table,
        deliveries=Delivery._meta.db_table,
        patients=Patient._meta.db_table,
        preferences=Preference._meta.db_table,
    )
    params: dict[str, Any] = {
        "ids": pg_array(ids),
        "token": str(token),
        "run": str(run_id),
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(PROMPT_COLUMNS)
    prompts: list[ClaimedPrompt] = []
    deliveries: dict[uuid.UUID, _DeliveryRow] = {}
    for row in rows:
        prompt = ClaimedPrompt(*row[:width])
        prompt.channels = _json_list(prompt.channels)
        delivery_id, active, locale, email, phone = row[width:]
        prompt.active, prompt.locale = bool(active), locale or ""
        prompt.email, prompt.phone = email or "", phone or ""
        if delivery_id is not None:
            deliveries[prompt.id] = _DeliveryRow(
                id=delivery_id,
                attempt=prompt.attempt,
                status=DeliveryStatus.SENDING,
                run_id=run_id,
            )
        prompts.append(prompt)
    return prompts, deliveries


def _json_list(value: Any) -> list[str]:
    # Django leaves jsonb undecoded for its JSONField to parse; a raw cursor gets the text.
    return list(json.loads(value) if isinstance(value, str | bytes) else value or [])


def _read_and_write_deliveries_portable(
    ids: list[uuid.UUID], token: uuid.UUID, run_id: uuid.UUID, now: datetime
) -> tuple[list[ClaimedPrompt], dict[uuid.UUID, _DeliveryRow]]:
    """The same through the ORM (SQLite, the embedded default); this run's rows are found
    afterwards by their run id, like an earlier run's."""
    prompts = [
        ClaimedPrompt(*row)
        for row in Prompt.objects.filter(
            id__in=ids, claim_token=token, status=PromptStatus.SENDING
        ).values_list(*PROMPT_COLUMNS)
    ]
    patient_ids = {p.patient_id for p in prompts}
    patients = dict(
        (pk, (active, locale))
        for pk, active, locale in Patient.objects.filter(id__in=patient_ids).values_list(
            "id", "active", "locale"
        )
    )
    contacts = dict(
        (pk, (email, phone))
        for pk, email, phone in Preference.objects.filter(patient_id__in=patient_ids).values_list(
            "patient_id", "email", "phone"
        )
    )
    for prompt in prompts:
        prompt.active, prompt.locale = patients.get(prompt.patient_id, (False, ""))
        prompt.email, prompt.phone = contacts.get(prompt.patient_id, ("", ""))
    with transaction.atomic():
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
                if p.expires_at > now
            ],
            ignore_conflicts=True,
        )
    return prompts, {}


def _earlier_deliveries(prompts: list[ClaimedPrompt]) -> dict[uuid.UUID, _DeliveryRow]:
    attempts = {p.id: p.attempt for p in prompts}
    found: dict[uuid.UUID, _DeliveryRow] = {}
    rows = Delivery.objects.filter(prompt_id__in=list(attempts)).values_list(
        "prompt_id", "id", "attempt", "status", "run_id", "channel", "provider_message_id"
    )
    for prompt_id, pk, attempt, status, run_id, channel, provider_message_id in rows:
        if attempts[prompt_id] == attempt:
            found[prompt_id] = _DeliveryRow(
                id=pk,
                attempt=attempt,
                status=status,
                run_id=run_id,
                channel=channel,
                provider_message_id=provider_message_id,
            )
    return found


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
    delivery: _DeliveryRow, run_id: uuid.UUID, token: uuid.UUID, now: datetime, status: str
) -> bool:
    taken = Delivery.objects.filter(id=delivery.id, status=status, run_id=delivery.run_id).update(
        status=DeliveryStatus.SENDING, run_id=run_id, claim_token=token, started_at=now, error=""
    )
    delivery.run_id = run_id
    delivery.status = DeliveryStatus.SENDING
    return taken == 1


# --- Sending --------------------------------------------------------------------------------


def _recipients(prompts: Iterable[ClaimedPrompt]) -> dict[uuid.UUID, Recipient]:
    by_patient = {p.patient_id: p for p in prompts}
    devices: dict[uuid.UUID, list[DeviceTarget]] = defaultdict(list)
    if by_patient:
        rows = (
            Device.objects.filter(patient_id__in=list(by_patient))
            .order_by("created_at", "id")
            .values_list("patient_id", "id", "platform", "token")
        )
        for patient_id, device_id, platform, token in rows:
            devices[patient_id].append(DeviceTarget(device_id, platform, token))
    return {
        patient_id: Recipient(
            patient_id=patient_id,
            devices=tuple(devices.get(patient_id, ())),
            email=prompt.email,
            phone=prompt.phone,
        )
        for patient_id, prompt in by_patient.items()
    }


def _message(prompt: ClaimedPrompt) -> Message:
    return Message(
        prompt_id=prompt.id,
        patient_id=prompt.patient_id,
        attempt=prompt.attempt,
        kind=prompt.kind,
        instrument=prompt.instrument,
        expires_at=prompt.expires_at,
        locale=prompt.locale,
    )


def _channel_order(prompt: ClaimedPrompt) -> list[str]:
    names = list(prompt.channels)
    if registry.nothing_configured() and settings.REMINDERS_CONSOLE_WHEN_UNCONFIGURED:
        names.append("console")
    return names


def _send(attempts: list[_Attempt], recipients: dict[uuid.UUID, Recipient]) -> None:
    """Each prompt through its first channel that is configured and can reach the patient; a
    failed send falls through to the next channel. Sends are grouped by channel, so a provider
    with a batch API gets one call per batch."""
    remaining = {id(a): _channel_order(a.prompt) for a in attempts}
    pending = [a for a in attempts if a.prompt.active]
    for a in attempts:
        if not a.prompt.active:
            a.result = SendResult(ok=False, error="patient-inactive")
    usable: dict[str, Channel | None] = {}

    def ready(name: str) -> Channel | None:
        if name not in usable:
            candidate = registry.channel(name)
            usable[name] = candidate if candidate is not None and candidate.available() else None
        return usable[name]

    while pending:
        by_channel: dict[str, list[_Attempt]] = defaultdict(list)
        for a in pending:
            recipient = recipients[a.prompt.patient_id]
            chosen = None
            while remaining[id(a)]:
                name = remaining[id(a)].pop(0)
                channel = ready(name)
                if channel is not None and channel.reaches(recipient):
                    chosen = name
                    break
            if chosen is None:
                if a.result is None:
                    a.result = SendResult(ok=False, error="no-reachable-channel")
            else:
                by_channel[chosen].append(a)
        pending = []
        for name, group in by_channel.items():
            channel = ready(name)
            assert channel is not None  # noqa: S101 - chosen above among the ready ones
            results = _send_group(channel, group, recipients)
            for a, sent in zip(group, results, strict=True):
                a.result = sent
                a.channel = name
                if not sent.ok:
                    pending.append(a)


def _send_group(
    channel: Channel, group: list[_Attempt], recipients: dict[uuid.UUID, Recipient]
) -> list[SendResult]:
    try:
        return channel.send_many(
            [(_message(a.prompt), recipients[a.prompt.patient_id]) for a in group]
        )
    except Exception as exc:
        logger.warning(
            "channel failed a batch", extra={"channel": channel.name, "error": type(exc).__name__}
        )
        return [SendResult(ok=False, error=type(exc).__name__)] * len(group)


# --- Recording the outcome ------------------------------------------------------------------


def _finish(attempts: list[_Attempt], token: uuid.UUID, now: datetime, out: DeliverResult) -> None:
    """Record every outcome: prompt rows still claimed by this token, delivery rows, events."""
    if not attempts:
        return
    stale_devices = {d for a in attempts if a.result for d in a.result.stale_device_ids}
    deliveries: list[_DeliveryRow] = []
    delivered: set[uuid.UUID] = set()
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
            delivery.provider_message_id = a.result.provider_message_id[:200] if a.result else ""
            delivery.error = "" if ok or a.result is None else a.result.error[:200]
            deliveries.append(delivery)
        if ok or unknown:
            _mark_sent(a.prompt, a.channel, now)
            delivered.add(a.prompt.id)
        else:
            _schedule_retry(a.prompt, now)
    with transaction.atomic():
        # Prompts first, locked in id order as planning locks them, so the two never wait on
        # each other in a circle; a prompt answered, cancelled or claimed again meanwhile is
        # not ours any more and keeps what it has.
        if connection.vendor == "postgresql":
            ours = _write_prompts(attempts, token, now)
            _write_deliveries(deliveries, now)
        else:
            ours = _write_prompts_portable(attempts, token, now)
            _write_deliveries_portable(deliveries, now)
        sent: list[ClaimedPrompt] = []
        for a in attempts:
            if a.prompt.id not in ours:
                out.not_ours += 1
            elif a.prompt.id not in delivered:
                out.failed += 1
            else:
                sent.append(a.prompt)
                if a.channel == UNKNOWN_CHANNEL:
                    out.unknown += 1
                elif a.recovered:
                    out.already_done += 1
                else:
                    out.sent += 1
                    out.channels[a.channel] = out.channels.get(a.channel, 0) + 1
        publish_many([sent_event(p) for p in sent if p.attempt == 1])
        if stale_devices:
            Device.objects.filter(id__in=stale_devices).delete()


_PROMPT_OUTCOME_COLUMNS = (
    ("status", "varchar"),
    ("due_at", "timestamptz"),
    ("sent_at", "timestamptz"),
    ("last_sent_at", "timestamptz"),
    ("channel", "varchar"),
    ("nudges_sent", "integer"),
    ("next_nudge_at", "timestamptz"),
    ("failures", "integer"),
)

_WRITE_PROMPTS_SQL = (
    "WITH ours AS MATERIALIZED (SELECT id FROM {table} WHERE id = ANY(%(ids)s::uuid[]) "
    "AND claim_token = %(token)s::uuid AND status = 'sending' ORDER BY id FOR UPDATE) "
    "UPDATE {table} AS p SET {assignments}, claim_token = NULL, claimed_at = NULL, "
    "updated_at = %(now)s FROM ours JOIN unnest(%(ids)s::uuid[], {arrays}) AS v(id, {names}) "
    "ON v.id = ours.id WHERE p.id = ours.id RETURNING p.id"
)


def _write_prompts(attempts: list[_Attempt], token: uuid.UUID, now: datetime) -> set[uuid.UUID]:
    names = [name for name, _ in _PROMPT_OUTCOME_COLUMNS]
    sql = _WRITE_PROMPTS_SQL.format(
        table=Prompt._meta.db_table,
        assignments=", ".join(f"{name} = v.{name}" for name in names),
        arrays=", ".join(f"%({name})s::{kind}[]" for name, kind in _PROMPT_OUTCOME_COLUMNS),
        names=", ".join(names),
    )
    params: dict[str, Any] = {
        name: pg_array(getattr(a.prompt, name) for a in attempts) for name in names
    }
    params.update(ids=pg_array(a.prompt.id for a in attempts), token=str(token), now=now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {uuid.UUID(str(row[0])) for row in cursor.fetchall()}


def _write_prompts_portable(
    attempts: list[_Attempt], token: uuid.UUID, now: datetime
) -> set[uuid.UUID]:
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
    names = [name for name, _ in _PROMPT_OUTCOME_COLUMNS]
    groups: dict[tuple[Any, ...], list[uuid.UUID]] = defaultdict(list)
    for a in attempts:
        if a.prompt.id in ours:
            groups[tuple(getattr(a.prompt, name) for name in names)].append(a.prompt.id)
    for values, ids in groups.items():
        Prompt.objects.filter(id__in=ids).update(
            **dict(zip(names, values, strict=True)),
            claim_token=None,
            claimed_at=None,
            updated_at=now,
        )
    return ours


_WRITE_DELIVERIES_SQL = (
    "UPDATE {table} AS d SET status = v.status, channel = v.channel, "
    "provider_message_id = v.provider_message_id, error = v.error, finished_at = %(now)s "
    "FROM unnest(%(ids)s::bigint[], %(status)s::varchar[], %(channel)s::varchar[], "
    "%(provider_message_id)s::varchar[], %(error)s::varchar[]) "
    "AS v(id, status, channel, provider_message_id, error) WHERE d.id = v.id"
)


def _write_deliveries(deliveries: list[_DeliveryRow], now: datetime) -> None:
    if not deliveries:
        return
    params: dict[str, Any] = {
        name: pg_array(getattr(d, name) for d in deliveries)
        for name in ("id", "status", "channel", "provider_message_id", "error")
    }
    params["ids"] = params.pop("id")
    params["now"] = now
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_DELIVERIES_SQL.format(table=Delivery._meta.db_table), params)


def _write_deliveries_portable(deliveries: list[_DeliveryRow], now: datetime) -> None:
    for d in deliveries:
        Delivery.objects.filter(id=d.id).update(
            status=d.status,
            channel=d.channel,
            provider_message_id=d.provider_message_id,
            error=d.error,
            finished_at=now,
        )


def _mark_sent(prompt: ClaimedPrompt, channel: str, now: datetime) -> None:
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


def _schedule_retry(prompt: ClaimedPrompt, now: datetime) -> None:
    delay = RETRY_DELAYS[min(prompt.failures, len(RETRY_DELAYS) - 1)]
    prompt.failures += 1
    if prompt.attempt <= 1:
        prompt.status = PromptStatus.PENDING
        prompt.due_at = now + delay
    else:
        # A nudge nobody could send: try it again later, the prompt itself was sent.
        prompt.status = PromptStatus.SENT
        prompt.next_nudge_at = now + delay


def _expire_claimed(prompts: list[ClaimedPrompt], token: uuid.UUID, now: datetime) -> int:
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
