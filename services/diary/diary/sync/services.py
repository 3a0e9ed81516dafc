"""The offline sync: a phone's backlog of diary entries and questionnaire responses in one request.

Every item is checked by the same functions as the single-item API (``validate_entry``,
``validate_response``) and its row built by the same code, so an item means the same whichever
way it arrives. What differs is the write: all new rows of a batch take their server sequence
numbers at once, go in with one multi-row INSERT per kind that skips ids already stored, and
their events in one INSERT, in one transaction. Ids that were there already are read back and
compared with the item by patient and create digest (see diary.common.idempotency): the same
create again is a duplicate, anything else a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from diary.common import sequence
from diary.common.models import ClientCreatedRecord
from diary.common.prompts import PROMPT_TAKEN, prompt_ids_of_others
from diary.common.validation import Error, Invalid, check_uuid, error
from diary.entries import services as entry_services
from diary.entries.models import PainEntry
from diary.entries.validation import validate_entry
from diary.patients.models import Patient
from diary.patients.services import patient_for_write
from diary.questionnaires import services as questionnaire_services
from diary.questionnaires.models import QuestionnaireResponse
from diary.questionnaires.validation import validate_response
from diary.sync.errors import TooManyItems
from shared.auth.principal import TokenUser
from shared.db.bulk import insert_new, model_values
from shared.outbox.services import NewEvent, event_publish_many

# Cost of one batch: about 0.15 ms of CPU per item (checks, digest, event) plus a handful of
# statements, in one transaction that holds the new ids' index entries until it commits. 500
# items take 100-200 ms on two cores and about 200 KB of JSON, well under the body limit.
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
class Kind:
    name: str
    model: type[ClientCreatedRecord]
    validate: Callable[..., tuple[dict[str, Any], list[Error]]]
    candidate: Callable[[Patient, dict[str, Any]], Any]
    event_type: str
    event_data: Callable[..., dict[str, Any]]


KINDS: dict[str, Kind] = {
    "entry": Kind(
        name="entry",
        model=PainEntry,
        validate=validate_entry,
        candidate=entry_services.entry_candidate,
        event_type=entry_services.EVENT_LOGGED,
        event_data=entry_services.entry_event_data,
    ),
    "questionnaire": Kind(
        name="questionnaire",
        model=QuestionnaireResponse,
        validate=validate_response,
        candidate=questionnaire_services.response_candidate,
        event_type=questionnaire_services.EVENT_COMPLETED,
        event_data=questionnaire_services.response_event_data,
    ),
}
KIND_NAMES = tuple(KINDS)


@dataclass
class _Item:
    index: int
    kind: Kind
    cleaned: dict[str, Any]
    row: Any = None


def sync_batch(*, user: TokenUser, items: list[Any]) -> list[ItemResult]:
    """Store the patient's batch; one result per item, in the order of ``items``.

    An invalid item is reported and skipped; the others are stored. The whole batch is one
    transaction: either every valid item is stored with its event, or (on a database failure)
    none is, and the phone sends the batch again.
    """
    if len(items) > MAX_ITEMS:
        raise TooManyItems(MAX_ITEMS)
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    valid: list[_Item] = []
    for index, raw in enumerate(items):
        checked = _check(raw, now)
        if isinstance(checked, ItemResult):
            results[index] = checked
        else:
            valid.append(_Item(index, *checked))
    with transaction.atomic():
        first_zone = valid[0].cleaned["timezone"] if valid else None
        patient = patient_for_write(user=user, timezone_name=first_zone)
        if valid:
            _store(patient, valid, results, now)
    return [result for result in results if result is not None]


def _check(raw: Any, now: datetime) -> ItemResult | tuple[Kind, dict[str, Any]]:
    if not isinstance(raw, dict):
        return ItemResult(None, None, "invalid", [error("", NOT_AN_OBJECT)])
    item_id = _item_id(raw.get("id"))
    kind = KINDS.get(raw["kind"]) if isinstance(raw.get("kind"), str) else None
    if kind is None:
        message = f"Must be one of: {', '.join(KIND_NAMES)}."
        return ItemResult(item_id, None, "invalid", [error("kind", message)])
    body = {name: value for name, value in raw.items() if name != "kind"}
    cleaned, errors = kind.validate(body, now=now)
    if errors:
        return ItemResult(item_id, kind.name, "invalid", errors)
    return kind, cleaned


def _item_id(value: Any) -> uuid.UUID | None:
    try:
        return check_uuid(value)
    except Invalid:
        return None


def _store(
    patient: Patient, valid: list[_Item], results: list[ItemResult | None], now: datetime
) -> None:
    taken = prompt_ids_of_others(patient.id, (item.cleaned.get("prompt_id") for item in valid))
    accepted: list[_Item] = []
    for item in valid:
        if item.cleaned.get("prompt_id") in taken:
            errors = [error("prompt_id", PROMPT_TAKEN)]
            results[item.index] = ItemResult(item.cleaned["id"], item.kind.name, "invalid", errors)
        else:
            item.row = item.kind.candidate(patient, item.cleaned)
            accepted.append(item)
    # The first item with an id is the one inserted; a repeat of it within the batch is compared
    # with whatever that id ends up stored as.
    first: dict[tuple[str, uuid.UUID], _Item] = {}
    for item in accepted:
        first.setdefault((item.kind.name, item.row.pk), item)
    fresh = list(first.values())
    if not fresh:
        return
    for item, seq in zip(fresh, sequence.reserve(len(fresh)), strict=True):
        item.row.server_seq = seq
        item.row.received_at = now
        item.row.updated_at = now
    stored: dict[tuple[str, uuid.UUID], Any] = {}
    created: set[tuple[str, uuid.UUID]] = set()
    for kind in KINDS.values():
        # Keys in one order for every request: two batches sharing ids cannot deadlock.
        rows = sorted((item.row for item in fresh if item.kind is kind), key=lambda row: row.pk)
        if not rows:
            continue
        inserted = insert_new(kind.model, [model_values(row) for row in rows])
        for row in rows:
            if row.pk in inserted:
                created.add((kind.name, row.pk))
                stored[(kind.name, row.pk)] = row
        existing = [row.pk for row in rows if row.pk not in inserted]
        if existing:
            for row in kind.model._base_manager.filter(pk__in=existing):
                stored[(kind.name, row.pk)] = row
    events: list[NewEvent] = []
    for item in accepted:
        key = (item.kind.name, item.row.pk)
        if key in created and first[key] is item:
            results[item.index] = _result(item, item.row, "created")
            data = item.kind.event_data(item.row, clinic_id=patient.clinic_id)
            events.append(NewEvent(item.kind.event_type, patient.id, data))
        else:
            results[item.index] = _compare(item, stored.get(key))
    event_publish_many(events)


def _compare(item: _Item, row: ClientCreatedRecord | None) -> ItemResult:
    candidate = item.row
    # None: the row that held the id was removed since the insert (its patient was erased).
    if (
        row is None
        or row.patient_id != candidate.patient_id
        or row.create_digest != candidate.create_digest
    ):
        # Nothing about the stored row may reach the caller: it may be another patient's.
        return ItemResult(candidate.pk, item.kind.name, "conflict")
    return _result(item, row, "duplicate")


def _result(item: _Item, row: ClientCreatedRecord, status: Status) -> ItemResult:
    return ItemResult(
        row.pk,
        item.kind.name,
        status,
        server_seq=row.server_seq,
        version=row.version,
        deleted=row.deleted_at is not None,
    )
