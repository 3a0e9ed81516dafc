"""Writes to the read model, one per kind of event. Each returns the clinics whose data changed.

Every write keeps the newer of two versions of a record (the event's ``occurred_at``) and then
re-derives the patient's courses (derive.patients_refresh), so the read model ends the same
whatever order events arrive in, and however often.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from outcomes.readmodel.derive import patient_lock, patients_refresh
from outcomes.readmodel.models import (
    INSTRUMENT_KINDS,
    ErasedPatient,
    ObservationKind,
    Patient,
    Prompt,
)
from outcomes.readmodel.tables import LIVE, STAGING, Tables


def patient_is_erased(patient_id: uuid.UUID) -> bool:
    return ErasedPatient.objects.filter(patient_id=patient_id).exists()


def _clinics(*values: uuid.UUID | None) -> set[uuid.UUID]:
    return {value for value in values if value is not None}


@transaction.atomic
def patient_profile_apply(
    *,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    timezone: str,
    sex: str,
    birth_year: int | None,
    version: datetime,
    enrolled_at: datetime | None = None,
) -> set[uuid.UUID]:
    if patient_is_erased(patient_id):
        return set()
    patient_lock(patient_id)
    current = Patient.objects.filter(patient_id=patient_id).first()
    if current is not None and current.version > version:
        return set()
    previous_clinic = current.clinic_id if current else None
    Patient.objects.update_or_create(
        patient_id=patient_id,
        defaults={
            "clinic_id": clinic_id,
            "timezone": timezone,
            "sex": sex,
            "birth_year": birth_year,
            "version": version,
            **({"enrolled_at": enrolled_at} if enrolled_at else {}),
        },
    )
    patients_refresh(patient_ids=[patient_id])
    return _clinics(clinic_id, previous_clinic)


@transaction.atomic
def patient_erase(*, patient_id: uuid.UUID, erased_at: datetime) -> set[uuid.UUID]:
    """Forget everything about the patient here; later events about them are dropped."""
    patient_lock(patient_id)
    clinics = set(Patient.objects.filter(patient_id=patient_id).values_list("clinic_id", flat=True))
    for tables in (LIVE, STAGING):
        clinics.update(
            tables.course.objects.filter(patient_id=patient_id).values_list("clinic_id", flat=True)
        )
        for model in tables.all():
            if model is tables.co_treatment:
                continue  # goes with its course
            model.objects.filter(patient_id=patient_id).delete()
    Patient.objects.filter(patient_id=patient_id).delete()
    Prompt.objects.filter(patient_id=patient_id).delete()
    ErasedPatient.objects.get_or_create(patient_id=patient_id, defaults={"erased_at": erased_at})
    return clinics


def _newer(model: Any, pk_field: str, pk: uuid.UUID, version: datetime) -> bool:
    """Whether a change of ``version`` is at least as new as what the table holds."""
    held = model.objects.filter(**{pk_field: pk}).values_list("version", flat=True).first()
    return held is None or held <= version


def _put_newer(
    model: Any,
    key: dict[str, Any],
    values: dict[str, Any],
    version: datetime,
    *,
    values_if_new: dict[str, Any] | None = None,
) -> bool:
    """Write the row of ``key`` with ``values`` (``values_if_new`` when there is none yet)
    unless the table holds a newer version of it; True when written. The caller holds the
    patient's lock, so nobody else writes the row meanwhile."""
    held = model.objects.filter(**key).values_list("pk", "version").first()
    if held is not None and held[1] > version:
        return False
    if held is None:
        model.objects.create(**key, **(values_if_new or values), version=version)
    else:
        model.objects.filter(pk=held[0]).update(**values, version=version)
    return True


# The diary spells a dextrose injectate with its concentration: dextrose_25, dextrose_12.5.
_DEXTROSE = re.compile(r"^dextrose_(\d+(?:\.\d+)?)$")


def solution_split(code: str | None) -> tuple[str, float | None]:
    """An injectate code as (family, dextrose percent): "dextrose_25" -> ("dextrose", 25.0)."""
    match = _DEXTROSE.match(code or "")
    if match:
        return "dextrose", float(match.group(1))
    return code or "", None


def injection_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The columns of an injection from its event data (or diary's export of it)."""
    solution, percent = solution_split(data.get("solution"))
    explicit = _optional_float(data.get("dextrose_percent"))
    return {
        "patient_id": uuid.UUID(data["patient_id"]),
        "clinic_id": uuid.UUID(data["clinic_id"]),
        "course_id": uuid.UUID(data["course_id"]),
        "injected_at": parse_time(data["injected_at"]),
        "site": data.get("site") or "",
        "laterality": data.get("laterality") or "",
        "solution": solution,
        "dextrose_percent": explicit if explicit is not None else percent,
        "guidance": data.get("guidance") or "",
        "protocol": data.get("protocol") or "",
        "diagnosis": data.get("diagnosis") or "",
        "co_treatments": sorted(set(data.get("co_treatments") or [])),
        "pre_procedure_nrs": data.get("pre_procedure_nrs"),
    }


@transaction.atomic
def injection_apply(
    *, data: dict[str, Any], version: datetime, tables: Tables = LIVE
) -> set[uuid.UUID]:
    """An injection as recorded or corrected (the full record)."""
    fields = injection_fields(data)
    patient_id = fields["patient_id"]
    if patient_is_erased(patient_id):
        return set()
    patient_lock(patient_id)
    injection_id = uuid.UUID(data["injection_id"])
    key = {"injection_id": injection_id}
    if not _put_newer(tables.injection, key, {**fields, "deleted": False}, version):
        return set()
    patients_refresh(patient_ids=[patient_id], tables=tables)
    return _clinics(fields["clinic_id"], _current_clinic(patient_id))


@transaction.atomic
def injection_delete(
    *,
    injection_id: uuid.UUID,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    course_id: uuid.UUID,
    version: datetime,
    tables: Tables = LIVE,
) -> set[uuid.UUID]:
    if patient_is_erased(patient_id):
        return set()
    patient_lock(patient_id)
    if not _newer(tables.injection, "injection_id", injection_id, version):
        return set()
    updated = tables.injection.objects.filter(injection_id=injection_id).update(
        deleted=True, version=version
    )
    if not updated:
        # A tombstone, so the "recorded" still on its way cannot bring the injection back.
        tables.injection.objects.create(
            injection_id=injection_id,
            patient_id=patient_id,
            clinic_id=clinic_id,
            course_id=course_id,
            injected_at=version,
            deleted=True,
            version=version,
        )
    patients_refresh(patient_ids=[patient_id], tables=tables)
    return _clinics(clinic_id, _current_clinic(patient_id))


@transaction.atomic
def entry_apply(
    *, data: dict[str, Any], version: datetime, tables: Tables = LIVE
) -> set[uuid.UUID]:
    """A diary entry as logged or corrected (the full entry)."""
    patient_id = uuid.UUID(data["patient_id"])
    if patient_is_erased(patient_id):
        return set()
    patient_lock(patient_id)
    entry_id = uuid.UUID(data["entry_id"])
    clinic_id = uuid.UUID(data["clinic_id"])
    recorded_at = parse_time(data["recorded_at"])
    nrs = data.get("nrs")
    values = {
        "patient_id": patient_id,
        "clinic_id": clinic_id,
        "recorded_at": recorded_at,
        "nrs": nrs,
        "nsaid": bool(data.get("nsaid")),
        "red_flag": bool(data.get("red_flag")),
        "side_effects": sorted(set(data.get("side_effects") or [])),
        "co_treatments": sorted(set(data.get("co_treatments") or [])),
        "deleted": False,
    }
    if not _put_newer(tables.entry, {"entry_id": entry_id}, values, version):
        return set()
    _observation_put(
        tables,
        source_id=entry_id,
        kind=ObservationKind.NRS,
        patient_id=patient_id,
        clinic_id=clinic_id,
        occurred_at=recorded_at,
        value=None if nrs is None else float(nrs),
        version=version,
    )
    patients_refresh(patient_ids=[patient_id], tables=tables)
    return _clinics(clinic_id, _current_clinic(patient_id))


@transaction.atomic
def entry_delete(
    *,
    entry_id: uuid.UUID,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    version: datetime,
    tables: Tables = LIVE,
) -> set[uuid.UUID]:
    if patient_is_erased(patient_id):
        return set()
    patient_lock(patient_id)
    if not _newer(tables.entry, "entry_id", entry_id, version):
        return set()
    updated = tables.entry.objects.filter(entry_id=entry_id).update(deleted=True, version=version)
    if not updated:
        tables.entry.objects.create(
            entry_id=entry_id,
            patient_id=patient_id,
            clinic_id=clinic_id,
            recorded_at=version,
            deleted=True,
            version=version,
        )
    _observation_put(
        tables,
        source_id=entry_id,
        kind=ObservationKind.NRS,
        patient_id=patient_id,
        clinic_id=clinic_id,
        occurred_at=version,
        value=None,
        version=version,
    )
    patients_refresh(patient_ids=[patient_id], tables=tables)
    return _clinics(clinic_id, _current_clinic(patient_id))


@transaction.atomic
def questionnaire_apply(
    *, data: dict[str, Any], version: datetime, deleted: bool = False, tables: Tables = LIVE
) -> set[uuid.UUID]:
    patient_id = uuid.UUID(data["patient_id"])
    if patient_is_erased(patient_id):
        return set()
    kind = INSTRUMENT_KINDS.get(data.get("instrument", ""))
    if kind is None:
        return set()
    patient_lock(patient_id)
    clinic_id = uuid.UUID(data["clinic_id"])
    sections = data.get("section_scores") if kind == ObservationKind.ODI else None
    _observation_put(
        tables,
        source_id=uuid.UUID(data["response_id"]),
        kind=kind,
        patient_id=patient_id,
        clinic_id=clinic_id,
        occurred_at=parse_time(data["completed_at"]),
        value=None if deleted else float(data["score"]),
        version=version,
        sections=sections,
    )
    patients_refresh(patient_ids=[patient_id], tables=tables)
    return _clinics(clinic_id, _current_clinic(patient_id))


def _observation_put(
    tables: Tables,
    *,
    source_id: uuid.UUID,
    kind: int,
    patient_id: uuid.UUID,
    clinic_id: uuid.UUID,
    occurred_at: datetime,
    value: float | None,
    version: datetime,
    sections: list[int | None] | None = None,
) -> None:
    """Store an observation, or mark it deleted when ``value`` is None (no score any more)."""
    key = {"source_id": source_id, "kind": kind}
    row = {"patient_id": patient_id, "clinic_id": clinic_id, "occurred_at": occurred_at}
    if value is None:
        # A deletion marks the score it deletes; one that arrives first leaves a tombstone.
        tombstone = {**row, "value": 0.0, "deleted": True}
        _put_newer(tables.observation, key, {"deleted": True}, version, values_if_new=tombstone)
    else:
        values = {**row, "value": value, "sections": sections, "deleted": False}
        _put_newer(tables.observation, key, values, version)


@transaction.atomic
def prompt_apply(*, event_type: str, data: dict[str, Any]) -> set[uuid.UUID]:
    """A prompt was sent, answered or expired: keep each moment as reminders reported it."""
    patient_id = uuid.UUID(data["patient_id"])
    if patient_is_erased(patient_id):
        return set()
    clinic_id = uuid.UUID(data["clinic_id"])
    prompt, _ = Prompt.objects.select_for_update().get_or_create(
        prompt_id=uuid.UUID(data["prompt_id"]),
        defaults={"patient_id": patient_id, "clinic_id": clinic_id},
    )
    prompt.clinic_id = clinic_id
    if event_type == "reminders.prompt.sent":
        prompt.injection_id = uuid.UUID(data["injection_id"]) if data["injection_id"] else None
        prompt.kind = data.get("kind") or ""
        prompt.due_at = parse_time(data["due_at"])
        prompt.sent_at = parse_time(data["sent_at"])
        prompt.expires_at = parse_time(data["expires_at"])
    elif event_type == "reminders.prompt.answered":
        # A prompt answered without being sent has no sent event to say when it was due.
        if data.get("due_at"):
            prompt.due_at = prompt.due_at or parse_time(data["due_at"])
        prompt.answered_at = parse_time(data["answered_at"])
    elif event_type == "reminders.prompt.expired":
        prompt.due_at = prompt.due_at or parse_time(data["due_at"])
        prompt.expired_at = parse_time(data["expired_at"])
    prompt.save()
    return {clinic_id}


def _current_clinic(patient_id: uuid.UUID) -> uuid.UUID | None:
    return Patient.objects.filter(patient_id=patient_id).values_list("clinic_id", flat=True).first()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _optional_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
