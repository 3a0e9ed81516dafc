"""The offline sync: a phone's backlog of diary entries and questionnaire responses in one request.

Every item is checked by the same rules as the single-item API (``validate_entries`` gives each
entry exactly what ``validate_entry`` would; ``validate_response``) and its row built by the same
code, so an item means the same whichever way it arrives. What differs is the write: all new rows
of a kind go in with one statement that also numbers them, checks the patient and records their
events, all kinds in one transaction (see ``diary.common.creation``). Ids that were there
already are read back and compared with the item by patient and create digest (see
diary.common.idempotency): the same create again is a duplicate, anything else a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from diary.common.creation import Kind, Outcome, Writer, log_new
from diary.common.validation import Error, Invalid, check_uuid, error
from diary.entries.services import ENTRY
from diary.entries.validation import validate_entries
from diary.patients.errors import PatientNotEnrolled
from diary.patients.services import patient_for_write
from diary.questionnaires.services import RESPONSE
from diary.questionnaires.validation import validate_response
from diary.sync.errors import TooManyItems
from shared.auth.principal import TokenUser

# Cost of one batch: several tens of microseconds of CPU per item in Python (checks, digest, event)
# and as much again in PostgreSQL (the row, its history row, its event), in one transaction that
# holds the new ids' index entries until it commits. 500 items take tens of milliseconds and
# about 200 KB of JSON, well under the body limit.
MAX_ITEMS = 500

Status = Literal["created", "duplicate", "conflict", "invalid"]
NOT_AN_OBJECT = "Must be a JSON object."


@dataclass(frozen=True)
class ItemResult:
    """What became of one item. ``server_seq`` and ``version`` are the stored row's (created or
    duplicate); ``deleted``: a duplicate of a create that has been deleted since."""

    id: uuid.UUID | None
    kind: str | None
    status: Status
    errors: list[Error] = field(default_factory=list)
    server_seq: int | None = None
    version: int | None = None
    deleted: bool = False


@dataclass(frozen=True)
class SyncKind:
    name: str
    kind: Kind[Any]
    validate: Callable[[list[Any], datetime], list[tuple[dict[str, Any], list[Error]]]]


KINDS: dict[str, SyncKind] = {
    "entry": SyncKind(
        name="entry",
        kind=ENTRY,
        validate=lambda items, now: validate_entries(items, now=now),
    ),
    "questionnaire": SyncKind(
        name="questionnaire",
        kind=RESPONSE,
        validate=lambda items, now: [validate_response(item, now=now) for item in items],
    ),
}
KIND_NAMES = tuple(KINDS)


def sync_batch(*, user: TokenUser, items: list[Any]) -> list[ItemResult]:
    """Store the patient's batch; one result per item, in the order of ``items``.

    An invalid item is reported and skipped; the others are stored. The whole batch is one
    transaction: either every valid item is stored with its event, or (on a database failure)
    none is, and the phone sends the batch again.
    """
    if len(items) > MAX_ITEMS:
        raise TooManyItems(MAX_ITEMS)
    if user.clinic_id is None:
        raise PatientNotEnrolled()
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    bodies: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in KINDS}
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            results[index] = ItemResult(None, None, "invalid", [error("", NOT_AN_OBJECT)])
            continue
        kind = KINDS.get(raw["kind"]) if isinstance(raw.get("kind"), str) else None
        if kind is None:
            message = f"Must be one of: {', '.join(KIND_NAMES)}."
            results[index] = ItemResult(
                _item_id(raw.get("id")), None, "invalid", [error("kind", message)]
            )
            continue
        body = dict(raw)
        del body["kind"]
        bodies[kind.name].append((index, body))
    valid: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in KINDS}
    for name, indexed in bodies.items():
        checked = KINDS[name].validate([body for _, body in indexed], now)
        for (index, body), (cleaned, errors) in zip(indexed, checked, strict=True):
            if errors:
                results[index] = ItemResult(_item_id(body.get("id")), name, "invalid", errors)
            else:
                valid[name].append((index, cleaned))
    first = min((rows[0] for rows in valid.values() if rows), default=None)
    zone = first[1]["timezone"] if first else None

    writer = Writer(
        user.id, user.clinic_id, lambda: patient_for_write(user=user, timezone_name=zone)
    )
    with transaction.atomic():
        if first is None:
            writer.patient()  # nothing to store; an erased or unknown patient still hears so
        for name, rows in valid.items():
            if not rows:
                continue
            outcomes = log_new(
                KINDS[name].kind, [cleaned for _, cleaned in rows], writer=writer, now=now
            )
            for (index, _), outcome in zip(rows, outcomes, strict=True):
                results[index] = _result(name, outcome)
    return [result for result in results if result is not None]


def _item_id(value: Any) -> uuid.UUID | None:
    try:
        return check_uuid(value)
    except Invalid:
        return None


def _result(kind: str, outcome: Outcome[Any]) -> ItemResult:
    if outcome.status == "created":
        return ItemResult(outcome.id, kind, "created", server_seq=outcome.server_seq, version=1)
    row = outcome.obj
    if outcome.status in ("duplicate", "deleted") and row is not None:
        return ItemResult(
            row.pk,
            kind,
            "duplicate",
            server_seq=row.server_seq,
            version=row.version,
            deleted=row.deleted_at is not None,
        )
    if outcome.status == "invalid":
        return ItemResult(outcome.id, kind, "invalid", outcome.errors)
    # Nothing about the stored row may reach the caller: it may be another patient's.
    return ItemResult(outcome.id, kind, "conflict")
