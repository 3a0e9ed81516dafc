"""The diary's changes in server sequence order, for services that rebuild a read model from them.

A change is the current state of one injection, pain entry or questionnaire response whose
``server_seq`` lies in the requested range: every create, correction and deletion gives the row a
new number, so a row appears again after each change, at its newest number, and a consumer that
applies changes in order as upserts (or, for a deleted row, removals) converges on the diary.
Only settled numbers are handed out (see diary.export.horizon).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diary.common.models import ClientCreatedRecord
from diary.entries.models import PainEntry
from diary.entries.services import entry_event_data
from diary.export.horizon import known_settled, settled_horizon
from diary.injections.models import Injection
from diary.injections.services import injection_event_data
from diary.questionnaires.models import QuestionnaireResponse
from diary.questionnaires.services import response_event_data

# Cost of one page: three index range scans of at most this many rows each, merged in Python,
# and one JSON document of about 400 bytes per change.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class Source:
    kind: str
    model: type[ClientCreatedRecord]
    data: Callable[..., dict[str, Any]]
    # Columns the export never reads: free text and medication names stay in the diary.
    withheld: tuple[str, ...] = ()


SOURCES = (
    Source("injection", Injection, injection_event_data),
    Source("entry", PainEntry, entry_event_data, withheld=("note", "medications")),
    Source("questionnaire", QuestionnaireResponse, response_event_data),
)


@dataclass(frozen=True)
class Change:
    kind: str
    id: uuid.UUID
    server_seq: int
    version: int
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    changed_at: datetime
    deleted_at: datetime | None
    # The row as its event carries it (docs/events.md); None for a deleted row.
    data: dict[str, Any] | None


@dataclass(frozen=True)
class Page:
    changes: list[Change]
    next_after: int
    has_more: bool


def changes_after(*, after: int, limit: int = DEFAULT_LIMIT) -> Page:
    """Up to ``limit`` settled changes with ``server_seq > after``, in server sequence order.

    ``next_after`` is where the next call starts: the last change's number on a full page, else
    the settled horizon (numbers up to it that were not handed out belong to nothing: rolled-back
    writes, or rows changed again since). ``has_more``: the page was full, ask again at once.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    # Below a horizon this process has already seen settled, no barrier is needed: a consumer
    # catching up on a long history pages through without making writers wait.
    known = known_settled()
    if known > after:
        changes = _changes(after, known, limit)
        if len(changes) == limit:
            return Page(changes, changes[-1].server_seq, True)
    horizon = settled_horizon()
    changes = _changes(after, horizon, limit)
    if len(changes) == limit:
        return Page(changes, changes[-1].server_seq, True)
    return Page(changes, max(after, horizon), False)


def _changes(after: int, upto: int, limit: int) -> list[Change]:
    if upto <= after:
        return []
    per_kind = [_of_source(source, after, upto, limit) for source in SOURCES]
    merged = heapq.merge(*per_kind, key=lambda change: change.server_seq)
    return [change for _, change in zip(range(limit), merged, strict=False)]


def _of_source(source: Source, after: int, upto: int, limit: int) -> list[Change]:
    manager: Any = source.model._base_manager
    rows = (
        manager.filter(server_seq__gt=after, server_seq__lte=upto)
        .select_related("patient")
        .defer(*source.withheld)
        .order_by("server_seq")[:limit]
    )
    changes = []
    for row in rows:
        clinic_id = row.patient.clinic_id
        deleted = row.deleted_at is not None
        changes.append(
            Change(
                kind=source.kind,
                id=row.pk,
                server_seq=row.server_seq,
                version=row.version,
                patient_id=row.patient_id,
                clinic_id=clinic_id,
                changed_at=row.updated_at,
                deleted_at=row.deleted_at,
                data=None if deleted else source.data(row, clinic_id=clinic_id),
            )
        )
    return changes
