"""Dispatch: the sweeper claims due prompts and hands them to workers (``delivery`` sends them).

The sweeper (Celery beat, every REMINDERS_SWEEP_SECONDS) claims due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` on partial indexes, marks them ``sending`` with a claim
token in the same short statement, and enqueues delivery tasks of REMINDERS_DELIVERY_CHUNK_SIZE
ids each as soon as each claim commits. Several sweepers at once take disjoint rows. Whatever
dies on the way is picked up:

- a task lost with its worker or with the broker: its prompts keep a claim older than
  REMINDERS_CLAIM_TIMEOUT_SECONDS, which a later sweep claims again under a new token (the old
  task, if it ever runs, finds its token gone and does nothing);
- a task re-run after its worker died mid-send: see ``delivery``;
- a broker that refuses the tasks: the claims are given back at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.fields import CharField
from django.utils import timezone

from reminders.prompts.models import Prompt, PromptStatus
from reminders.prompts.services.events import expired_event, publish_many
from reminders.prompts.services.planning import courses_replan_flagged

logger = logging.getLogger(__name__)

DELIVER_TASK = "reminders.prompts.deliver"
SWEEP_TASK = "reminders.prompts.sweep"

# Cost of one claim: a range scan of the partial index and an UPDATE of this many rows in one
# transaction holding their row locks (a few milliseconds per hundred rows). A thousand keeps the
# transaction around 20 ms, so planning and answering never wait on it for long.
CLAIM_BATCH_SIZE = 1000
# Cost of one delivery task: a fixed handful of statements and two commits whatever its size
# (see delivery), plus about 0.3 ms of worker and database time per prompt and the provider
# calls: 250 ids are well under a tenth of a second of work. Larger tasks save little more per
# prompt, and a worker lost as a whole takes its tasks' prompts with it until the claim timeout.
DELIVERY_CHUNK_SIZE = 250
# Most prompts one sweep claims: one worker sends them in under a minute at the benchmark's rate,
# well inside the claim timeout. The next sweep takes the rest.
SWEEP_MAX_CLAIMS = 100_000
# Cost of one expiry batch: an UPDATE of this many rows and one outbox row each.
EXPIRE_BATCH_SIZE = 500
# Re-planning flagged courses within a sweep is capped so that dispatch is not held up (a course
# takes a few tens of milliseconds); the re-plan task after a template edit does the bulk.
SWEEP_REPLAN_LIMIT = 25

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
