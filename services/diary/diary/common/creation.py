"""Creating client-identified rows idempotently, one or hundreds at a time, with their events.

The phone sends creates with ids it generated, and sends them again when it did not see the
answer. ``create_new`` inserts the candidates with ``INSERT ... ON CONFLICT (id) DO NOTHING``
(``INSERT OR IGNORE`` on SQLite) and learns from ``RETURNING`` which ids it inserted and the
server sequence numbers they took. Any other candidate's id was there before (or was inserted by
a concurrent request, whose transaction ours waited for): that row is read and compared with the
candidate by owner and create digest.

On PostgreSQL the whole write is one statement, so one transaction even outside
``transaction.atomic`` (a single create from the API needs no BEGIN and COMMIT of its own):

- it takes the writer barrier (see ``diary.common.sequence``) and numbers the rows itself;
- it finds the patient and holds their row against erasure (``FOR KEY SHARE``: an erasure waits
  for the write to commit, and a write that waited for an erasure finds the patient erased);
- it inserts the rows of a patient who is not erased and whose clinic is the one the events
  were built for, and for each row it inserted, that row's event in the outbox;
- it answers with the patient's clinic and erasure mark and the ids and numbers inserted.

A patient the diary does not know yet (whose enrolment event has not arrived) is created from the
token and the statement runs again; so does it, with events for the right clinic, when the
patient's clinic is not the token's (the patient moved; nothing was written the first time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from django.db import connection, transaction
from django.utils import timezone

from diary.common import sequence
from diary.common.errors import AlreadyDeleted, IdConflict, InvalidInput, PatientErased
from diary.common.idempotency import Written
from diary.common.models import ClientCreatedRecord
from diary.common.prompts import PROMPT_TAKEN, prompt_ids_of_others
from diary.common.validation import Error, error
from diary.patients.models import Patient
from shared.db.bulk import insert_columns, unnest_rows
from shared.db.prepared import execute_prepared
from shared.outbox.services import (
    NewEvent,
    event_publish_many,
    events_for_keys,
    events_recorded,
)

Status = Literal["created", "duplicate", "conflict", "deleted", "invalid"]


R = TypeVar("R", bound=ClientCreatedRecord)


class Candidate(NamedTuple):
    """One row to create: its id, the digest of its create, and the values (attname -> value) of
    its client-supplied and derived fields. The patient and the server's fields are set here.
    (A tuple: a batch makes hundreds.)"""

    pk: uuid.UUID
    digest: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Kind(Generic[R]):
    """A kind of row the phone creates: how cleaned creates become candidates (for a patient),
    and the events of created ones (for a patient and their clinic), one per candidate."""

    model: type[R]
    what: str
    candidates: Callable[[Sequence[dict[str, Any]], uuid.UUID], list[Candidate]]
    event_type: str
    events_data: Callable[[Sequence[Candidate], uuid.UUID, uuid.UUID], list[dict[str, Any]]]


@dataclass(slots=True)
class Outcome(Generic[R]):
    """What became of one create.

    created: stored now, numbered ``server_seq``; the stored row is the ``candidate``'s values
    with the server's fields (``created_row`` builds it; ``obj`` is None). duplicate: the same
    create had been stored before (``obj`` is the stored row; nothing was written). conflict:
    the id is taken by different content or another patient (``obj`` is None: nothing about
    that row may leak). deleted: the same create was stored and has been deleted since (``obj``:
    the row). invalid: refused, see ``errors``.
    """

    id: uuid.UUID
    status: Status
    obj: R | None = None
    errors: list[Error] = field(default_factory=list)
    server_seq: int | None = None
    candidate: Candidate | None = None


def created_row(
    model: type[R], candidate: Candidate, *, patient_id: uuid.UUID, server_seq: int, now: datetime
) -> R:
    """The row a created candidate became, as an instance (no query)."""
    return model(
        pk=candidate.pk,
        patient_id=patient_id,
        create_digest=candidate.digest,
        server_seq=server_seq,
        received_at=now,
        updated_at=now,
        version=1,
        **candidate.values,
    )


@dataclass(frozen=True)
class Writer:
    """Who writes: the patient (their id is the token's subject), the clinic their token names,
    and how to get their row when the diary does not know them yet (created from the token; it
    raises if they may not write)."""

    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    patient: Callable[[], Patient]


def log_new(
    kind: Kind[R], items: Sequence[dict[str, Any]], *, writer: Writer, now: datetime
) -> list[Outcome[R]]:
    """Store the patient's new rows of ``kind``, each cleaned by its validator, with one event per
    created row; one outcome per item, in order. A prompt another patient answered makes its
    item invalid. On PostgreSQL the write is one statement (one transaction wherever it runs);
    elsewhere it belongs inside the caller's ``transaction.atomic``."""
    patient_id = writer.patient_id
    taken = prompt_ids_of_others(patient_id, (item.get("prompt_id") for item in items))
    outcomes: list[Outcome[R] | None] = []
    accepted: list[dict[str, Any]] = []
    for item in items:
        if taken and item.get("prompt_id") in taken:
            errors = [error("prompt_id", PROMPT_TAKEN)]
            outcomes.append(Outcome(item["id"], "invalid", errors=errors))
        else:
            accepted.append(item)
            outcomes.append(None)
    if not accepted:
        writer.patient()  # nothing to store, but a patient who may not write still hears so
        return [outcome for outcome in outcomes if outcome is not None]
    stored = iter(create_new(kind, kind.candidates(accepted, patient_id), writer=writer, now=now))
    return [outcome if outcome is not None else next(stored) for outcome in outcomes]


def log_one(kind: Kind[R], values: dict[str, Any], *, writer: Writer) -> Written[R]:
    """One create (cleaned) as its API answers it: the stored row, created now or repeated; a
    conflict, a deleted row or a taken prompt raise their problem. One transaction."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        [outcome] = log_new(kind, [values], writer=writer, now=now)
    else:
        with transaction.atomic():
            [outcome] = log_new(kind, [values], writer=writer, now=now)
    if outcome.status == "created" and outcome.candidate is not None:
        assert outcome.server_seq is not None  # noqa: S101 - created outcomes carry it
        row = created_row(
            kind.model,
            outcome.candidate,
            patient_id=writer.patient_id,
            server_seq=outcome.server_seq,
            now=now,
        )
        return Written(row, created=True)
    return written_or_raise(outcome, kind.what)


def written_or_raise(outcome: Outcome[R], what: str) -> Written[R]:
    """A single create's outcome as its API answers it: repeated, or else a problem. (A created
    outcome's row is built by the caller with ``created_row``.)"""
    if outcome.status == "conflict":
        raise IdConflict(what)
    if outcome.status == "deleted":
        raise AlreadyDeleted(what)
    if outcome.status == "invalid" or outcome.obj is None:
        raise InvalidInput(outcome.errors)
    return Written(outcome.obj, created=False)


def create_new(
    kind: Kind[R], candidates: Sequence[Candidate], *, writer: Writer, now: datetime
) -> list[Outcome[R]]:
    """Create the ``candidates`` that are new, with their events; one outcome per candidate, in
    order. A candidate repeating an earlier one of the list is compared with it like a repeat of
    a stored row. Rows go in sorted by id, so two requests with overlapping ids lock them in the
    same order and cannot deadlock."""
    patient_id = writer.patient_id
    first: dict[uuid.UUID, int] = {}
    for index, candidate in enumerate(candidates):
        first.setdefault(candidate.pk, index)
    fresh = sorted((candidates[index] for index in first.values()), key=lambda c: c.pk)
    if connection.vendor == "postgresql":
        numbers = _write_postgresql(kind, fresh, writer, now)
    else:
        numbers = _write_other(kind, fresh, writer, now)
    existing = [candidate.pk for candidate in fresh if candidate.pk not in numbers]
    model = kind.model
    stored = (
        {row.pk: row for row in model._base_manager.filter(pk__in=existing)} if existing else {}
    )
    outcomes: list[Outcome[R]] = []
    for index, candidate in enumerate(candidates):
        pk = candidate.pk
        if first[pk] == index:
            if pk in numbers:
                outcomes.append(Outcome(pk, "created", server_seq=numbers[pk], candidate=candidate))
            else:
                # None: the row that held the id was removed since (its patient was erased).
                outcomes.append(_compare(stored.get(pk), candidate, patient_id))
            continue
        # A repeat within the list: compare with what its first occurrence became.
        earlier = outcomes[first[pk]]
        if earlier.status == "created":
            assert earlier.server_seq is not None  # noqa: S101 - created outcomes carry it
            row = created_row(
                model,
                candidates[first[pk]],
                patient_id=patient_id,
                server_seq=earlier.server_seq,
                now=now,
            )
            outcomes.append(_compare(row, candidate, patient_id))
        elif earlier.obj is None:
            outcomes.append(Outcome(pk, earlier.status))
        else:
            outcomes.append(_compare(earlier.obj, candidate, patient_id))
    return outcomes


def _compare(row: R | None, candidate: Candidate, patient_id: uuid.UUID) -> Outcome[R]:
    if row is None or row.patient_id != patient_id or row.create_digest != candidate.digest:
        return Outcome(candidate.pk, "conflict")
    if row.deleted_at is not None:
        return Outcome(candidate.pk, "deleted", row)
    return Outcome(candidate.pk, "duplicate", row)


def _columns(
    fresh: Sequence[Candidate], patient_id: uuid.UUID, now: datetime
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    columns: dict[str, list[Any]] = {
        "id": [candidate.pk for candidate in fresh],
        "create_digest": [candidate.digest for candidate in fresh],
    }
    for name in fresh[0].values:
        columns[name] = [candidate.values[name] for candidate in fresh]
    shared = {
        "patient_id": patient_id,
        "received_at": now,
        "updated_at": now,
        "version": 1,
        "deleted_at": None,
        "deleted_by": None,
    }
    return columns, shared


def _events(
    kind: Kind[Any], fresh: Sequence[Candidate], patient_id: uuid.UUID, clinic_id: uuid.UUID
) -> list[NewEvent]:
    return [
        NewEvent(kind.event_type, patient_id, data)
        for data in kind.events_data(fresh, patient_id, clinic_id)
    ]


def _write_postgresql(
    kind: Kind[Any], fresh: Sequence[Candidate], writer: Writer, now: datetime
) -> dict[uuid.UUID, int]:
    """The one statement (see the module's doc); returns the numbers of the rows it inserted."""
    model = kind.model
    patient_id = writer.patient_id
    numbering = sequence.numbering_statement()
    columns, shared = _columns(fresh, patient_id, now)
    rows = unnest_rows(
        model, columns, constants=shared, expressions={"server_seq": numbering.next_value}
    )
    quote = connection.ops.quote_name
    pk = quote(str(model._meta.pk.column))
    keys = [candidate.pk for candidate in fresh]
    clinic_id = writer.clinic_id
    for _ in range(3):
        events = events_for_keys(
            _events(kind, fresh, patient_id, clinic_id),
            keys,
            key_type="uuid",
            source="created",
            source_key="row_pk",
        )
        # Identifiers come from the models; every value is a parameter.
        statement = (
            f"WITH {numbering.cte}, "  # noqa: S608
            "writer AS MATERIALIZED ("
            f"SELECT clinic_id, is_erased FROM {quote(Patient._meta.db_table)} WHERE id = %s "
            "FOR KEY SHARE), "
            f"created AS (INSERT INTO {quote(model._meta.db_table)} {rows.columns} "
            f"{rows.select_from(numbering.source, 'writer')} "
            "WHERE NOT writer.is_erased AND writer.clinic_id = %s "
            f"ON CONFLICT ({pk}) DO NOTHING RETURNING {pk} AS row_pk, server_seq AS row_seq), "
            f"events AS ({events.insert}) "
            "SELECT writer.clinic_id, writer.is_erased, created.row_pk, created.row_seq "
            "FROM writer LEFT JOIN created ON true"
        )
        params = [*numbering.params, patient_id, *rows.params, clinic_id, *events.params]
        with connection.cursor() as cursor:
            execute_prepared(cursor, statement, params)
            answer = cursor.fetchall()
        if not answer:
            # Not known to the diary yet: created from the token, then the same statement.
            writer.patient()
            continue
        found_clinic, erased = answer[0][0], answer[0][1]
        if erased:
            raise PatientErased()
        if found_clinic != clinic_id:
            # The events were for another clinic, so nothing was written: again, for this one.
            clinic_id = found_clinic
            continue
        numbers = {row[2]: row[3] for row in answer if row[2] is not None}
        if numbers:
            events_recorded()
        return numbers
    raise RuntimeError("the patient changed while their rows were being written")


def _write_other(
    kind: Kind[Any], fresh: Sequence[Candidate], writer: Writer, now: datetime
) -> dict[uuid.UUID, int]:
    """SQLite (the embedded default), inside the caller's transaction: one writer at a time, so
    the patient is read first and only ids not stored yet take numbers (there they are
    consecutive)."""
    model = kind.model
    clinic_id = writer.patient().clinic_id
    pk_field = model._meta.pk
    assert pk_field is not None  # noqa: S101 - every concrete model has one
    stored = set(
        model._base_manager.filter(pk__in=[c.pk for c in fresh]).values_list("pk", flat=True)
    )
    fresh = [candidate for candidate in fresh if candidate.pk not in stored]
    if not fresh:
        return {}
    columns, shared = _columns(fresh, writer.patient_id, now)
    columns["server_seq"] = sequence.reserve(len(fresh))
    inserted = {
        pk_field.to_python(row[0])
        for row in insert_columns(
            model, columns, constants=shared, skip_existing=True, returning=(pk_field.attname,)
        )
    }
    created = [candidate for candidate in fresh if candidate.pk in inserted]
    if created:
        event_publish_many(_events(kind, created, writer.patient_id, clinic_id))
    numbers = dict(zip(columns["id"], columns["server_seq"], strict=True))
    return {candidate.pk: numbers[candidate.pk] for candidate in created}
