"""Creating client-identified rows idempotently, one or hundreds at a time.

The phone sends creates with ids it generated, and sends them again when it did not see the
answer. Candidates are inserted with ``INSERT ... ON CONFLICT DO NOTHING`` (``INSERT OR IGNORE``
on SQLite), then read back: a row carrying the server sequence number this call reserved is one
this call created; any other row with that id was there before (or was inserted by a concurrent
request), and the candidate is compared with it by owner and create digest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

from diary.common import sequence
from diary.common.errors import AlreadyDeleted, IdConflict, InvalidInput
from diary.common.idempotency import Written
from diary.common.models import ClientCreatedRecord
from diary.common.validation import Error

Status = Literal["created", "duplicate", "conflict", "deleted", "invalid"]


R = TypeVar("R", bound=ClientCreatedRecord)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What became of one create.

    created: stored now. duplicate: the same create had been stored before (``obj`` is the stored
    row; nothing was written). conflict: the id is taken by different content or another patient
    (``obj`` is None: nothing about that row may leak). deleted: the same create was stored and
    has been deleted since. invalid: refused, see ``errors``.
    """

    id: uuid.UUID
    status: Status
    obj: R | None = None
    errors: list[Error] = field(default_factory=list)


def _compare(row: R, candidate: R) -> Outcome[R]:
    if row.patient_id != candidate.patient_id or row.create_digest != candidate.create_digest:
        return Outcome(candidate.pk, "conflict")
    if row.deleted_at is not None:
        return Outcome(candidate.pk, "deleted")
    return Outcome(candidate.pk, "duplicate", row)


def create_idempotent(model: type[R], candidates: list[R], *, now: datetime) -> list[Outcome[R]]:
    """Insert the unsaved ``candidates`` (each with id, patient and create digest set) that are
    new, inside the caller's transaction; return one outcome per candidate, in order.

    Sets ``server_seq``, ``received_at`` and ``updated_at`` of the rows it creates. A candidate
    repeating an earlier one of the same list is compared with it like a repeat of a stored row.
    """
    manager = model._base_manager
    ids = {candidate.pk for candidate in candidates}
    stored = {row.pk: row for row in manager.filter(pk__in=ids)}
    outcomes: list[Outcome[R] | None] = [None] * len(candidates)
    first_index: dict[uuid.UUID, int] = {}
    for index, candidate in enumerate(candidates):
        if candidate.pk in stored:
            outcomes[index] = _compare(stored[candidate.pk], candidate)
        elif candidate.pk not in first_index:
            first_index[candidate.pk] = index
    fresh = [candidates[index] for index in first_index.values()]
    if fresh:
        for candidate, seq in zip(fresh, sequence.reserve(len(fresh)), strict=True):
            candidate.server_seq = seq
            candidate.received_at = now
            candidate.updated_at = now
        manager.bulk_create(fresh, ignore_conflicts=True)
        written = {row.pk: row for row in manager.filter(pk__in=list(first_index))}
        for pk, index in first_index.items():
            candidate = candidates[index]
            row = written[pk]
            if row.server_seq == candidate.server_seq:
                outcomes[index] = Outcome(pk, "created", row)
            else:
                outcomes[index] = _compare(row, candidate)
    for index, candidate in enumerate(candidates):
        if outcomes[index] is None:
            # A repeat within the list: compare with the row its first occurrence ended up as.
            first = outcomes[first_index[candidate.pk]]
            assert first is not None  # noqa: S101 - every first occurrence has an outcome by now
            if first.obj is None:
                outcomes[index] = Outcome(candidate.pk, first.status)
            else:
                outcomes[index] = _compare(first.obj, candidate)
    return [outcome for outcome in outcomes if outcome is not None]


def written_or_raise(outcome: Outcome[R], what: str) -> Written[R]:
    """A single create's outcome as its API answers it: created or repeated, else a problem."""
    if outcome.status == "conflict":
        raise IdConflict(what)
    if outcome.status == "deleted":
        raise AlreadyDeleted(what)
    if outcome.status == "invalid" or outcome.obj is None:
        raise InvalidInput(outcome.errors)
    return Written(outcome.obj, created=outcome.status == "created")
