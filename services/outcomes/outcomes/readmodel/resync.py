"""Rebuilding the diary part of the read model from diary's export, so a lost, damaged or brand
new read model never needs repair by hand.

1. The staging tables (Resync*) are emptied and filled from GET /api/diary/v1/internal/export/,
   page by page in server-sequence order, with this service's token. Events keep being handled
   into the live tables meanwhile.
2. Courses are derived in staging for every patient, as the event handlers would.
3. The swap, in one transaction: the live tables are locked against writers (readers carry on
   and see the old contents until the commit), rows that events changed in live since the
   rebuild started and that are newer than their staged copies are carried over into staging,
   then the live tables' contents are replaced by staging's. Every clinic's cached results are
   retired after the commit.

Patients (identity) and prompts (reminders) are not the diary's, so they are kept as they are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from outcomes.analytics.cache import clinic_versions_bump_on_commit
from outcomes.readmodel.derive import patients_refresh
from outcomes.readmodel.models import (
    INSTRUMENT_KINDS,
    ErasedPatient,
    ObservationKind,
    Patient,
    ResyncRun,
)
from outcomes.readmodel.services import injection_fields, parse_time
from outcomes.readmodel.tables import LIVE, STAGING, Tables

logger = logging.getLogger(__name__)

EXPORT_PATH = "/api/diary/v1/internal/export/"
# A tombstone carries no course: this id stands for "unknown" (the row is deleted anyway).
UNKNOWN_COURSE = uuid.UUID(int=0)


class ResyncError(RuntimeError):
    """The diary's export could not be read; nothing was changed."""


class Session(Protocol):
    def get(self, url: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ResyncResult:
    changes: int
    last_seq: int
    patients: int
    carried_over: int


def diary_pages(session: Session, *, page_size: int) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Pages of the diary's changes from the start, with the cursor after each page."""
    after = 0
    while True:
        response = session.get(EXPORT_PATH, params={"after": after, "limit": page_size})
        if response.status_code != 200:
            raise ResyncError(f"diary's export answered {response.status_code}")
        try:
            body = response.json()
            changes, after, more = body["changes"], int(body["next_after"]), bool(body["has_more"])
        except (ValueError, KeyError, TypeError):
            raise ResyncError("diary's export answered something else than a page") from None
        yield changes, after
        if not more:
            return


def _version(change: dict[str, Any]) -> datetime:
    return parse_time(change["changed_at"])


def _staged_rows(changes: list[dict[str, Any]]) -> tuple[dict[Any, Model], ...]:
    """The staging rows for one page; a row changed twice keeps its newest state."""
    injections: dict[Any, Model] = {}
    entries: dict[Any, Model] = {}
    observations: dict[Any, Model] = {}
    for change in changes:
        version = _version(change)
        patient_id = uuid.UUID(change["patient_id"])
        clinic_id = uuid.UUID(change["clinic_id"])
        data: dict[str, Any] = change.get("data") or {}
        row_id = uuid.UUID(change["id"])
        deleted = bool(change["deleted"]) or not data
        common = {"patient_id": patient_id, "clinic_id": clinic_id, "version": version}
        if change["kind"] == "injection":
            fields = (
                {"course_id": UNKNOWN_COURSE, "injected_at": version}
                if deleted
                else {k: v for k, v in injection_fields(data).items() if k not in common}
            )
            injections[row_id] = STAGING.injection(
                injection_id=row_id, deleted=deleted, **common, **fields
            )
        elif change["kind"] == "entry":
            recorded_at = version if deleted else parse_time(data["recorded_at"])
            nrs = None if deleted else data.get("nrs")
            entries[row_id] = STAGING.entry(
                entry_id=row_id,
                recorded_at=recorded_at,
                nrs=nrs,
                nsaid=False if deleted else bool(data.get("nsaid")),
                red_flag=False if deleted else bool(data.get("red_flag")),
                side_effects=[] if deleted else sorted(set(data.get("side_effects") or [])),
                co_treatments=[] if deleted else sorted(set(data.get("co_treatments") or [])),
                deleted=deleted,
                **common,
            )
            observations[(row_id, ObservationKind.NRS)] = STAGING.observation(
                source_id=row_id,
                kind=ObservationKind.NRS,
                occurred_at=recorded_at,
                value=0.0 if nrs is None else float(nrs),
                deleted=deleted or nrs is None,
                **common,
            )
        elif change["kind"] == "questionnaire":
            if deleted:
                # Without its data the instrument is unknown: delete whichever was staged.
                for kind in INSTRUMENT_KINDS.values():
                    observations.pop((row_id, kind), None)
                STAGING.observation.objects.filter(source_id=row_id).delete()
                continue
            instrument = INSTRUMENT_KINDS.get(data["instrument"])
            if instrument is None:
                continue
            observations[(row_id, instrument)] = STAGING.observation(
                source_id=row_id,
                kind=instrument,
                occurred_at=parse_time(data["completed_at"]),
                value=float(data["score"]),
                sections=data.get("section_scores") if instrument == ObservationKind.ODI else None,
                **common,
            )
    return injections, entries, observations


def _upsert(model: type[Model], rows: list[Model], unique: list[str]) -> None:
    if not rows:
        return
    updatable = [
        f.name for f in model._meta.concrete_fields if not f.primary_key and f.name not in unique
    ]
    model._default_manager.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=unique,
        update_fields=updatable,
    )


def _clear(tables: Tables) -> None:
    for model in tables.all():
        model._default_manager.all().delete()


def resync_from_diary(*, session: Session, page_size: int = 1000) -> ResyncResult:
    """Rebuild the diary-derived read model from diary's export and swap it in."""
    run = ResyncRun.objects.create(started_at=timezone.now())
    started = run.started_at
    _clear(STAGING)
    changes = 0
    last_seq = 0
    for page, after in diary_pages(session, page_size=page_size):
        injections, entries, observations = _staged_rows(page)
        with transaction.atomic():
            _upsert(STAGING.injection, list(injections.values()), ["injection_id"])
            _upsert(STAGING.entry, list(entries.values()), ["entry_id"])
            _upsert(STAGING.observation, list(observations.values()), ["source_id", "kind"])
        changes += len(page)
        last_seq = after
        logger.info("resync: page staged", extra={"changes": changes, "after": after})
    erased = list(ErasedPatient.objects.values_list("patient_id", flat=True))
    for model in (STAGING.injection, STAGING.entry, STAGING.observation):
        model._default_manager.filter(patient_id__in=erased).delete()
    patient_ids = _patients(STAGING)
    patients_refresh(patient_ids=patient_ids, tables=STAGING)
    carried = _swap(started)
    run.finished_at = timezone.now()
    run.records, run.last_seq, run.succeeded = changes, last_seq, True
    run.save()
    logger.info(
        "resync: read model replaced",
        extra={"changes": changes, "patients": len(patient_ids), "carried_over": carried},
    )
    return ResyncResult(
        changes=changes, last_seq=last_seq, patients=len(patient_ids), carried_over=carried
    )


def _patients(tables: Tables) -> set[uuid.UUID]:
    ids: set[uuid.UUID] = set()
    for model in (tables.injection, tables.entry, tables.observation):
        ids.update(model._default_manager.values_list("patient_id", flat=True).distinct())
    return ids


def _carry_over(started: datetime) -> tuple[int, set[uuid.UUID]]:
    """Copy into staging the live rows events changed since the rebuild began, where they are
    newer than the staged copy (or have none). Returns how many, and whose they are."""
    carried = 0
    patients: set[uuid.UUID] = set()
    for live, staged, keys in (
        (LIVE.injection, STAGING.injection, ["injection_id"]),
        (LIVE.entry, STAGING.entry, ["entry_id"]),
        (LIVE.observation, STAGING.observation, ["source_id", "kind"]),
    ):
        newer = []
        for row in live._default_manager.filter(version__gt=started):
            lookup = {key: getattr(row, key) for key in keys}
            held = (
                staged._default_manager.filter(**lookup).values_list("version", flat=True).first()
            )
            if held is not None and held >= row.version:
                continue
            values = {
                f.attname: getattr(row, f.attname)
                for f in live._meta.concrete_fields
                if not (f.primary_key and f.attname == "id")
            }
            newer.append(staged(**values))
            patients.add(row.patient_id)
        _upsert(staged, newer, keys)
        carried += len(newer)
    return carried, patients


def _columns(model: type[Model]) -> str:
    return ", ".join(connection.ops.quote_name(str(f.column)) for f in model._meta.concrete_fields)


@transaction.atomic
def _swap(started: datetime) -> int:
    live_tables = [model._meta.db_table for model in LIVE.all()]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Writers (event handlers) wait until the commit; readers carry on with the old rows.
            quoted = ", ".join(connection.ops.quote_name(t) for t in live_tables)
            cursor.execute(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")
    carried, patients = _carry_over(started)
    if patients:
        patients_refresh(patient_ids=patients, tables=STAGING)
    clinics = set(Patient.objects.values_list("clinic_id", flat=True))
    clinics.update(LIVE.course.objects.values_list("clinic_id", flat=True).distinct())
    _clear(LIVE)
    with connection.cursor() as cursor:
        # Parents first, so the co-treatments' foreign key finds its course.
        for live, staged in (
            (LIVE.injection, STAGING.injection),
            (LIVE.entry, STAGING.entry),
            (LIVE.observation, STAGING.observation),
            (LIVE.course, STAGING.course),
            (LIVE.co_treatment, STAGING.co_treatment),
        ):
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(live._meta.db_table)} ({_columns(live)}) "  # noqa: S608 - names from the models
                f"SELECT {_columns(staged)} FROM {connection.ops.quote_name(staged._meta.db_table)}"
            )
        if connection.vendor == "postgresql":
            for model in (LIVE.course, LIVE.co_treatment, LIVE.observation):
                table = model._meta.db_table
                highest = f"SELECT COALESCE(MAX(id), 0) + 1 FROM {connection.ops.quote_name(table)}"  # noqa: S608 - a model's table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), ({highest}), false)", [table]
                )
    clinics.update(LIVE.course.objects.values_list("clinic_id", flat=True).distinct())
    _clear(STAGING)
    clinic_versions_bump_on_commit(clinics)
    return carried
