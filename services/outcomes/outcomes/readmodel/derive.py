"""Courses, baselines and the placing of observations, derived from a patient's mirrored rows.

``patients_refresh`` recomputes everything derived for a set of patients from their current
injections, entries and observations. It is a pure function of those rows, so running it after
every event, in whatever order the events arrive and however often, leaves the same result: a
correction or a deletion is never patched in place, it is re-derived.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.db import connections

from outcomes.readmodel.models import (
    COHORT_ATTRIBUTES,
    InjectionRecord,
    ObservationKind,
    Patient,
)
from outcomes.readmodel.tables import LIVE, Tables
from shared.db.update import rows_update

# The baseline is the last NRS in this many days before the course's first injection: older
# scores describe a different state of the back (documented in docs/outcomes.md).
BASELINE_LOOKBACK_DAYS = 90

# Age bands by decade at the first injection; the first band is open below, the last above.
AGE_BANDS = ("under_30", "30_39", "40_49", "50_59", "60_69", "70_plus")
AGE_UNKNOWN = "unknown"

# One packed score of Course.series: little-endian, no padding (13 bytes).
SERIES_DTYPE = np.dtype([("day", "<i4"), ("kind", "i1"), ("value", "<f8")])

# Cost of one refresh batch: every row of this many patients is read and diffed in memory.
REFRESH_BATCH_SIZE = 500

_COURSE_FIELDS = (
    "patient_id",
    "clinic_id",
    "first_injected_at",
    "first_injection_date",
    "last_injection_day",
    "injection_count",
    "site",
    "laterality",
    "solution",
    "dextrose_percent",
    "guidance",
    "protocol",
    "diagnosis",
    "sex",
    "age_band",
    "baseline_nrs",
    "baseline_nrs_at",
    "baseline_odi",
    "cohort_key",
)


def cohort_key(attributes: Mapping[str, Any]) -> int:
    """A course's COHORT_ATTRIBUTES values as one signed 64-bit number (BLAKE2b): equal values,
    equal keys. Two different combinations sharing a key would be noticed by the analysis
    when it learns the values behind the keys, and handled there."""
    text = "\x1f".join(str(attributes[name]) for name in COHORT_ATTRIBUTES)
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def age_band(birth_year: int | None, at_year: int) -> str:
    if birth_year is None:
        return AGE_UNKNOWN
    age = at_year - birth_year
    if age < 30:
        return AGE_BANDS[0]
    if age >= 70:
        return AGE_BANDS[-1]
    return AGE_BANDS[(age - 20) // 10]


def patient_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def patient_lock(patient_id: uuid.UUID, *, using: str = "default") -> None:
    """Serialise writers of one patient's rows until the transaction ends.

    Two events of one patient handled at once by two workers would otherwise each derive the
    patient's courses from a different state and interleave their writes.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return  # SQLite admits one writer at a time anyway
    key = int.from_bytes(patient_id.bytes[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@dataclass
class _Obs:
    pk: int
    kind: int
    occurred_at: datetime
    value: float
    course_ref: int | None
    day: int | None
    clinic_id: uuid.UUID
    deleted: bool


@dataclass
class _CoursePlan:
    course_id: uuid.UUID
    injections: list[InjectionRecord]
    fields: dict[str, Any] = field(default_factory=dict)
    co_treatments: set[str] = field(default_factory=set)

    @property
    def first(self) -> InjectionRecord:
        return self.injections[0]


@dataclass
class _PatientRows:
    injections: list[InjectionRecord] = field(default_factory=list)
    observations: list[_Obs] = field(default_factory=list)
    entry_co_treatments: list[tuple[datetime, list[str]]] = field(default_factory=list)


def patients_refresh(*, patient_ids: Iterable[uuid.UUID], tables: Tables = LIVE) -> None:
    """Re-derive the courses of these patients and place their observations in them."""
    ids = sorted(set(patient_ids))
    for start in range(0, len(ids), REFRESH_BATCH_SIZE):
        _refresh_batch(ids[start : start + REFRESH_BATCH_SIZE], tables)


def _refresh_batch(ids: list[uuid.UUID], tables: Tables) -> None:
    profiles = {p.patient_id: p for p in Patient.objects.filter(patient_id__in=ids)}
    rows: dict[uuid.UUID, _PatientRows] = defaultdict(_PatientRows)
    for injection in tables.injection.objects.filter(patient_id__in=ids, deleted=False).order_by(
        "injected_at", "injection_id"
    ):
        rows[injection.patient_id].injections.append(injection)
    observation_values = (
        tables.observation.objects.filter(patient_id__in=ids)
        .order_by("occurred_at", "id")
        .values_list(
            "id",
            "patient_id",
            "kind",
            "occurred_at",
            "value",
            "course_ref",
            "day",
            "clinic_id",
            "deleted",
        )
    )
    for (
        pk,
        patient_id,
        kind,
        occurred_at,
        value,
        course_ref,
        day,
        clinic_id,
        deleted,
    ) in observation_values:
        rows[patient_id].observations.append(
            _Obs(pk, kind, occurred_at, value, course_ref, day, clinic_id, deleted)
        )
    for patient_id, recorded_at, co_treatments in (
        tables.entry.objects.filter(patient_id__in=ids, deleted=False)
        .exclude(co_treatments=[])  # most entries log none: not read at all
        .values_list("patient_id", "recorded_at", "co_treatments")
    ):
        rows[patient_id].entry_co_treatments.append((recorded_at, list(co_treatments)))
    existing = {c.course_id: c for c in tables.course.objects.filter(patient_id__in=ids)}
    existing_codes: dict[int, set[str]] = defaultdict(set)
    for course_pk, code in tables.co_treatment.objects.filter(
        course__patient_id__in=ids
    ).values_list("course_id", "code"):
        existing_codes[course_pk].add(code)

    plans_by_patient = {
        patient_id: _plan_courses(patient_id, profiles.get(patient_id), rows[patient_id])
        for patient_id in ids
    }
    wanted = {plan.course_id for plans in plans_by_patient.values() for plan in plans}
    stale = [course.pk for course_id, course in existing.items() if course_id not in wanted]
    if stale:
        tables.course.objects.filter(pk__in=stale).delete()

    course_pks: dict[uuid.UUID, int] = {}
    to_update = []
    for plans in plans_by_patient.values():
        for plan in plans:
            course = existing.get(plan.course_id)
            if course is None:
                course = tables.course.objects.create(course_id=plan.course_id, **plan.fields)
            elif any(getattr(course, name) != value for name, value in plan.fields.items()):
                for name, value in plan.fields.items():
                    setattr(course, name, value)
                to_update.append(course)
            course_pks[plan.course_id] = course.pk
            _replace_codes(tables, course.pk, existing_codes.get(course.pk, set()), plan)
    if to_update:
        rows_update(tables.course, to_update, _COURSE_FIELDS)

    changed = []
    for patient_id in ids:
        plans = plans_by_patient[patient_id]
        profile = profiles.get(patient_id)
        changed.extend(
            _place_observations(rows[patient_id].observations, plans, course_pks, profile)
        )
    if changed:
        objects = [
            tables.observation(pk=o.pk, course_ref=o.course_ref, day=o.day, clinic_id=o.clinic_id)
            for o in changed
        ]
        rows_update(tables.observation, objects, ["course_ref", "day", "clinic_id"])

    scores: dict[int, list[_Obs]] = defaultdict(list)
    for patient_id in ids:
        for observation in rows[patient_id].observations:  # in time order
            if observation.course_ref is not None and not observation.deleted:
                scores[observation.course_ref].append(observation)
    held = {course.pk: bytes(course.series) for course in existing.values()}
    repacked = []
    for pk in course_pks.values():
        series = series_pack([(o.day or 0, o.kind, o.value) for o in scores.get(pk, [])])
        if held.get(pk, b"") != series:
            repacked.append(tables.course(pk=pk, series=series))
    if repacked:
        rows_update(tables.course, repacked, ["series"])


def series_pack(scores: list[tuple[int, int, float]]) -> bytes:
    """A course's scores, (day, kind, value) in time order, as Course.series stores them."""
    return np.array(scores, dtype=SERIES_DTYPE).tobytes() if scores else b""


def series_rebuild(*, course_pks: Iterable[int], tables: Tables = LIVE) -> None:
    """Repack the series of these courses from their observations (rows written in bulk)."""
    pks = sorted(set(course_pks))
    for start in range(0, len(pks), REFRESH_BATCH_SIZE):
        batch = pks[start : start + REFRESH_BATCH_SIZE]
        scores: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        for course_ref, day, kind, value in (
            tables.observation.objects.filter(course_ref__in=batch, deleted=False)
            .order_by("occurred_at", "id")
            .values_list("course_ref", "day", "kind", "value")
        ):
            scores[course_ref].append((day, kind, value))
        rows_update(
            tables.course,
            [tables.course(pk=pk, series=series_pack(scores.get(pk, []))) for pk in batch],
            ["series"],
        )


def _replace_codes(tables: Tables, course_pk: int, have: set[str], plan: _CoursePlan) -> None:
    if have == plan.co_treatments:
        return
    removed = have - plan.co_treatments
    if removed:
        tables.co_treatment.objects.filter(course_id=course_pk, code__in=removed).delete()
    tables.co_treatment.objects.bulk_create(
        [tables.co_treatment(course_id=course_pk, code=code) for code in plan.co_treatments - have]
    )


def _patient_clinic(profile: Patient | None, rows: _PatientRows) -> uuid.UUID | None:
    if profile is not None:
        return profile.clinic_id
    if rows.injections:
        return rows.injections[-1].clinic_id
    if rows.observations:
        return rows.observations[-1].clinic_id
    return None


def _plan_courses(
    patient_id: uuid.UUID, profile: Patient | None, rows: _PatientRows
) -> list[_CoursePlan]:
    zone = patient_zone(profile.timezone if profile else None)
    clinic_id = _patient_clinic(profile, rows)
    by_course: dict[uuid.UUID, _CoursePlan] = {}
    for injection in rows.injections:  # in time order, so a plan's first injection is first
        plan = by_course.setdefault(injection.course_id, _CoursePlan(injection.course_id, []))
        plan.injections.append(injection)
    plans = sorted(by_course.values(), key=lambda p: (p.first.injected_at, str(p.course_id)))
    nrs = [o for o in rows.observations if o.kind == ObservationKind.NRS and not o.deleted]
    odi = [o for o in rows.observations if o.kind == ObservationKind.ODI and not o.deleted]
    for index, plan in enumerate(plans):
        first, last = plan.first, plan.injections[-1]
        first_date = local_date(first.injected_at, zone)
        baseline = _last_before(nrs, first.injected_at)
        baseline_odi = _last_before(odi, first.injected_at)
        baseline_nrs: float | None = baseline.value if baseline else None
        if baseline is None and first.pre_procedure_nrs is not None:
            baseline_nrs = float(first.pre_procedure_nrs)
        plan.fields = {
            "patient_id": patient_id,
            "clinic_id": clinic_id,
            "first_injected_at": first.injected_at,
            "first_injection_date": first_date,
            "last_injection_day": (local_date(last.injected_at, zone) - first_date).days,
            "injection_count": len(plan.injections),
            "site": first.site,
            "laterality": first.laterality,
            "solution": first.solution,
            "dextrose_percent": first.dextrose_percent,
            "guidance": first.guidance,
            "protocol": first.protocol,
            "diagnosis": first.diagnosis,
            "sex": profile.sex if profile else "unknown",
            "age_band": age_band(profile.birth_year if profile else None, first_date.year),
            "baseline_nrs": baseline_nrs,
            "baseline_nrs_at": baseline.occurred_at if baseline else None,
            "baseline_odi": baseline_odi.value if baseline_odi else None,
        }
        plan.fields["cohort_key"] = cohort_key(plan.fields)
        ends = plans[index + 1].first.injected_at if index + 1 < len(plans) else None
        codes = {code for injection in plan.injections for code in injection.co_treatments}
        for recorded_at, logged in rows.entry_co_treatments:
            if recorded_at >= first.injected_at and (ends is None or recorded_at < ends):
                codes.update(logged)
        plan.co_treatments = codes
    return plans


def _last_before(observations: list[_Obs], moment: datetime) -> _Obs | None:
    """The last observation in the lookback window before ``moment`` (list in time order)."""
    earliest = moment - timedelta(days=BASELINE_LOOKBACK_DAYS)
    for observation in reversed(observations):
        if observation.occurred_at < moment:
            return observation if observation.occurred_at >= earliest else None
    return None


def _place_observations(
    observations: list[_Obs],
    plans: list[_CoursePlan],
    course_pks: dict[uuid.UUID, int],
    profile: Patient | None,
) -> list[_Obs]:
    """Set each observation's course and day; return those that changed."""
    zone = patient_zone(profile.timezone if profile else None)
    starts = [plan.first.injected_at for plan in plans]
    changed = []
    for observation in observations:
        course_ref: int | None = None
        day: int | None = None
        index = bisect.bisect_right(starts, observation.occurred_at) - 1
        if index >= 0 and not observation.deleted:
            plan = plans[index]
            course_ref = course_pks[plan.course_id]
            day = (
                local_date(observation.occurred_at, zone) - plan.fields["first_injection_date"]
            ).days
        clinic_id = profile.clinic_id if profile else observation.clinic_id
        if (observation.course_ref, observation.day, observation.clinic_id) != (
            course_ref,
            day,
            clinic_id,
        ):
            observation.course_ref, observation.day = course_ref, day
            observation.clinic_id = clinic_id
            changed.append(observation)
    return changed
