"""A clinic's read model as compact numpy arrays, and the per-course features derived from them.

One ``ClinicFrame`` holds every course of a clinic (cohort attributes as integer codes, baselines,
first date, day of the last injection) and every placed score (course index, day, kind, value),
sorted by course and time, read from the courses' packed series (``Course.series``) in one pass.
A cohort is then a boolean mask over courses, and each analysis a few vectorised reductions over
features computed once per frame: the weekly means behind the recovery curve, the score nearest
each horizon, the times and events of the Kaplan-Meier analyses. No Python loop runs per score.

Frames are kept per process for the clinic's current data version (see cache.py), so a worker
loads a clinic's rows once per change of its data, not once per request.
"""

from __future__ import annotations

import io
import struct
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast
from numpy.typing import NDArray

from outcomes.analytics.horizons import (
    DURABILITY_ASSESSMENT_AFTER_LAST_INJECTION_DAYS,
    horizon_day,
    window_days,
)
from outcomes.readmodel.derive import SERIES_DTYPE
from outcomes.readmodel.models import Course, CourseCoTreatment, ObservationKind

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

COHORT_ATTRIBUTES = (
    "site",
    "laterality",
    "solution",
    "guidance",
    "protocol",
    "diagnosis",
    "sex",
    "age_band",
)

# Measures an observation can be summarised by.
NRS_PERCENT = "nrs_percent"  # (baseline - NRS) / baseline, in percent: relief
NRS_POINTS = "nrs_points"  # baseline - NRS, in points
ODI_POINTS = "odi_points"  # baseline ODI - ODI, in points
MEASURES = (NRS_PERCENT, NRS_POINTS, ODI_POINTS)

_EPOCH = date(1970, 1, 1)


def _instrument(measure: str) -> str:
    """The measures of one instrument share their observations (NRS relief and NRS points)."""
    return NRS_PERCENT if measure in (NRS_PERCENT, NRS_POINTS) else measure


@dataclass(frozen=True)
class CurveTable:
    """One value per (course, week): the course's mean of the measure that week, grouped by
    week."""

    course: IntArray
    week: IntArray
    value: FloatArray


@dataclass(frozen=True)
class _Segments:
    """The scores that have a measure, as one run per course: their observation index and
    day, each course's run [starts, ends), and the first score of each score's day."""

    index: IntArray
    day: NDArray[np.int32]
    starts: IntArray
    ends: IntArray
    first_of_day: IntArray


@dataclass(frozen=True)
class HorizonValues:
    """Per course: the measure at the observation nearest the horizon (nan where none), and
    whether the course's window for that horizon has closed."""

    value: FloatArray
    day: IntArray
    due: BoolArray


@dataclass(frozen=True)
class TimeToEvent:
    """Per course: a Kaplan-Meier duration (days) and whether it ends in the event; ``valid``
    marks the courses that enter the analysis."""

    time: FloatArray
    event: BoolArray
    valid: BoolArray


@dataclass
class ClinicFrame:
    clinic_id: uuid.UUID
    version: int
    course_pk: IntArray
    patient_index: IntArray  # the same number for the courses of one patient
    # Per attribute: each course's code, and the code of each value.
    attributes: dict[str, tuple[IntArray, dict[str, int]]]
    first_date: IntArray  # days since 1970-01-01
    baseline_nrs: FloatArray
    baseline_odi: FloatArray
    dextrose_percent: FloatArray
    last_injection_day: IntArray
    co_treatments: dict[str, BoolArray]
    obs_course: IntArray
    obs_day: IntArray
    obs_kind: NDArray[np.int8]
    obs_value: FloatArray
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def courses(self) -> int:
        return int(self.course_pk.size)

    def attribute_in(self, name: str, values: Iterable[str]) -> BoolArray:
        """Courses whose attribute is one of ``values``."""
        codes, lookup = self.attributes[name]
        wanted = [lookup[value] for value in values if value in lookup]
        return np.isin(codes, wanted)

    def _memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._derived:
                self._derived[key] = compute()
            return self._derived[key]

    # --- Per-observation measures ---------------------------------------------------------------

    def measure(self, name: str) -> tuple[BoolArray, FloatArray]:
        """(observations that have the measure, its value there) for every observation."""
        return self._memo(("measure", name), lambda: self._measure(name))

    def valid(self, name: str) -> BoolArray:
        """Observations that have the measure: of its instrument, in a course with a baseline."""
        group = _instrument(name)
        return self._memo(("valid", group), lambda: self._valid(group))

    def _valid(self, group: str) -> BoolArray:
        if group == NRS_PERCENT:
            # A baseline of 0 leaves no pain to relieve: such courses are left out (documented).
            baseline = self.baseline_nrs[self.obs_course]
            return (self.obs_kind == ObservationKind.NRS) & (baseline > 0)
        baseline = self.baseline_odi[self.obs_course]
        return (self.obs_kind == ObservationKind.ODI) & ~np.isnan(baseline)

    def _measure(self, name: str) -> tuple[BoolArray, FloatArray]:
        valid = self.valid(name)
        return valid, np.where(valid, self._values(name, self.obs_course, self.obs_value), np.nan)

    def _values(self, name: str, course: IntArray, score: FloatArray) -> FloatArray:
        """The measure of the given scores of the given courses."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if name == NRS_PERCENT:
                baseline = self.baseline_nrs[course]
                return np.asarray((baseline - score) / baseline * 100.0)
            if name == NRS_POINTS:
                return np.asarray(self.baseline_nrs[course] - score)
            if name == ODI_POINTS:
                return np.asarray(self.baseline_odi[course] - score)
        raise ValueError(f"unknown measure {name!r}")

    # --- Recovery curve -------------------------------------------------------------------------

    def curve_table(self, name: str) -> CurveTable:
        return self._memo(("curve", name), lambda: self._curve_table(name))

    def _curve_table(self, name: str) -> CurveTable:
        valid, values = self.measure(name)
        index = np.flatnonzero(valid)  # placed scores are on or after day 0 of their course
        course = self.obs_course[index]
        week = self.obs_day[index] // 7
        value = values[index]
        if index.size == 0:
            return CurveTable(course, week, value)
        # Rows are in (course, time) order, so (course, week) pairs come in runs.
        starts = np.flatnonzero(np.r_[True, (course[1:] != course[:-1]) | (week[1:] != week[:-1])])
        counts = np.diff(np.r_[starts, index.size])
        means = np.add.reduceat(value, starts) / counts
        course, week = course[starts], week[starts]
        # Grouped by week (a stable sort of small integers: numpy sorts them by radix); each
        # week's quantiles are then taken per cohort by partial sorts (stats.group_stats).
        order = np.argsort(week.astype(np.int16), kind="stable")
        return CurveTable(course[order], week[order], means[order])

    # --- Horizons -------------------------------------------------------------------------------

    def horizon(self, name: str, months: float, today: date) -> HorizonValues:
        key = ("horizon", name, months, today)
        return self._memo(key, lambda: self._horizon(name, months, today))

    def _positions(self, name: str, months: float) -> IntArray:
        """Per course, the observation nearest the horizon within its window (-1 if none).

        The measures of one instrument share their observations, so they share this too.
        """
        group = _instrument(name)
        return self._memo(("positions", group, months), lambda: self._nearest(name, months))

    def _segments(self, name: str) -> _Segments:
        group = _instrument(name)
        return self._memo(("segments", group), lambda: self._segments_compute(name))

    def _segments_compute(self, name: str) -> _Segments:
        index = np.flatnonzero(self.valid(name))
        course = self.obs_course[index]
        day = self.obs_day[index].astype(np.int32)  # half the memory traffic of int64
        counts = np.bincount(course, minlength=self.courses)
        ends = np.cumsum(counts)
        # Within a course the day never decreases (rows are in time order): the first score of
        # each day is where a new (course, day) run starts.
        new = np.ones(index.size, dtype=bool)
        if index.size:
            new[1:] = (course[1:] != course[:-1]) | (day[1:] != day[:-1])
        first_of_day = np.maximum.accumulate(np.where(new, np.arange(index.size), 0))
        return _Segments(index, day, ends - counts, ends, first_of_day)

    def _nearest(self, name: str, months: float) -> IntArray:
        """Found without any search: within a course the days are sorted, so the scores before
        the horizon day are a prefix of the course's run, counted with one running sum."""
        segments = self._segments(name)
        chosen = np.full(self.courses, -1, dtype=np.int64)
        if segments.index.size == 0:
            return chosen
        target, window = horizon_day(months), window_days(months)
        day, starts, ends = segments.day, segments.starts, segments.ends
        running = np.zeros(day.size + 1, dtype=np.int32)
        np.cumsum(day < target, out=running[1:])
        after = starts + (running[ends] - running[starts])  # first score on or after the day
        last = day.size - 1
        # ... the earliest of its day, since it is the first of the run of that day ...
        after_c = np.minimum(after, last)
        after_gap = day[after_c] - target
        after_ok = (after < ends) & (after_gap <= window)
        # ... and the last day before it, at the earliest score of that day.
        before_c = segments.first_of_day[np.maximum(after - 1, 0)]
        before_gap = target - day[before_c]
        before_ok = (after > starts) & (before_gap <= window)
        # The nearer wins; at equal distance, the earlier.
        take_before = before_ok & (~after_ok | (before_gap <= after_gap))
        take_after = after_ok & ~take_before
        chosen[take_before] = segments.index[before_c[take_before]]
        chosen[take_after] = segments.index[after_c[take_after]]
        return chosen

    def _due(self, months: float, today: date) -> BoolArray:
        """Courses whose window for the horizon has closed by ``today``."""
        return self._memo(
            ("due", months, today),
            lambda: (
                (today - _EPOCH).days - self.first_date >= horizon_day(months) + window_days(months)
            ),
        )

    def _horizon(self, name: str, months: float, today: date) -> HorizonValues:
        chosen = self._positions(name, months)
        found = np.flatnonzero(chosen >= 0)
        at = chosen[found]
        result = np.full(self.courses, np.nan)
        day = np.full(self.courses, -1, dtype=np.int64)
        result[found] = self._values(name, found, self.obs_value[at])
        day[found] = self.obs_day[at]
        return HorizonValues(value=result, day=day, due=self._due(months, today))

    # --- Kaplan-Meier ---------------------------------------------------------------------------

    def time_to_relief(self, threshold: float) -> TimeToEvent:
        """Days from the first injection to the first NRS with at least ``threshold`` % relief;
        censored at the last NRS of the course (last follow-up)."""
        return self._memo(("relief", threshold), lambda: self._time_to_relief(threshold))

    def _time_to_relief(self, threshold: float) -> TimeToEvent:
        valid, relief = self.measure(NRS_PERCENT)
        followed = valid & (self.obs_day >= 0)
        return self._first_event_or_last(followed, followed & (relief >= threshold))

    def durability(self, threshold: float) -> TimeToEvent:
        """Days from the first injection until relief of at least ``threshold`` % is lost.

        Assessment starts 14 days after the course's last injection (Kim 2010). The event is the
        first NRS from then on with less relief than the threshold (so a course without relief
        at its first assessment fails then); a course that keeps its relief is censored at its
        last NRS. Courses with no NRS since assessment started are not yet in the analysis.
        """
        return self._memo(("durability", threshold), lambda: self._durability(threshold))

    def _durability(self, threshold: float) -> TimeToEvent:
        valid, relief = self.measure(NRS_PERCENT)
        start = self.last_injection_day + DURABILITY_ASSESSMENT_AFTER_LAST_INJECTION_DAYS
        assessed = valid & (self.obs_day >= start[self.obs_course])
        return self._first_event_or_last(assessed, assessed & (relief < threshold))

    def _first_event_or_last(self, followed: BoolArray, events: BoolArray) -> TimeToEvent:
        time = np.zeros(self.courses)
        event = np.zeros(self.courses, dtype=bool)
        included = np.zeros(self.courses, dtype=bool)
        followed_index = np.flatnonzero(followed)
        if followed_index.size:
            course = self.obs_course[followed_index]
            last = followed_index[np.r_[course[1:] != course[:-1], True]]
            included[self.obs_course[last]] = True
            time[self.obs_course[last]] = self.obs_day[last]
        event_index = np.flatnonzero(events)
        if event_index.size:
            course = self.obs_course[event_index]
            first = event_index[np.r_[True, course[1:] != course[:-1]]]
            event[self.obs_course[first]] = True
            time[self.obs_course[first]] = self.obs_day[first]
        return TimeToEvent(time=time, event=event, valid=included)


# --- Loading --------------------------------------------------------------------------------------


@dataclass
class _Courses:
    """A clinic's course rows as columns, in course id order, with their packed scores."""

    pk: IntArray
    patient: IntArray
    first_date: IntArray
    baseline_nrs: FloatArray
    baseline_odi: FloatArray
    dextrose_percent: FloatArray
    last_injection_day: IntArray
    attributes: dict[str, tuple[IntArray, dict[str, int]]]
    scores: IntArray  # how many packed scores each course has
    packed: bytes  # every course's series, in the same order


def frame_load(clinic_id: uuid.UUID, version: int) -> ClinicFrame:
    """The clinic's frame: one read of its course rows (PostgreSQL: one binary COPY)."""
    courses = _courses_copy(clinic_id) if connection.vendor == "postgresql" else None
    if courses is None:
        courses = _courses_fetch(clinic_id)
    count = courses.pk.size
    co_treatments: dict[str, BoolArray] = {}
    pairs = CourseCoTreatment.objects.filter(course__clinic_id=clinic_id).values_list(
        "course_id", "code"
    )
    for course, code in pairs:
        flags = co_treatments.setdefault(code, np.zeros(count, dtype=bool))
        flags[np.searchsorted(courses.pk, course)] = True
    packed = np.frombuffer(courses.packed, dtype=SERIES_DTYPE)
    return ClinicFrame(
        clinic_id=clinic_id,
        version=version,
        course_pk=courses.pk,
        patient_index=courses.patient,
        attributes=courses.attributes,
        first_date=courses.first_date,
        baseline_nrs=courses.baseline_nrs,
        baseline_odi=courses.baseline_odi,
        dextrose_percent=courses.dextrose_percent,
        last_injection_day=courses.last_injection_day,
        co_treatments=co_treatments,
        obs_course=np.repeat(np.arange(count, dtype=np.int64), courses.scores),
        obs_day=packed["day"].astype(np.int64),
        obs_kind=packed["kind"].copy(),
        obs_value=packed["value"].astype(np.float64),
    )


def _courses_fetch(clinic_id: uuid.UUID) -> _Courses:
    """Any database: the rows through the driver, ids and dates as text (a UUID or a date
    object per row would cost more than the analysis)."""
    rows = (
        Course.objects.filter(clinic_id=clinic_id)
        .order_by("id")
        .annotate(
            patient=Cast("patient_id", TextField()),
            first=Cast("first_injection_date", TextField()),
        )
        .values_list(
            "id",
            "patient",
            "first",
            "baseline_nrs",
            "baseline_odi",
            "dextrose_percent",
            "last_injection_day",
            "series",
            *COHORT_ATTRIBUTES,
        )
    )
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = list(cursor.fetchall())
    count = len(fetched)
    columns: list[Any] = (
        list(zip(*fetched, strict=True)) if fetched else [()] * (8 + len(COHORT_ATTRIBUTES))
    )

    def floats(values: Any) -> FloatArray:
        return np.array(values, dtype=np.float64).reshape(count)

    series = [bytes(blob) for blob in columns[7]]
    return _Courses(
        pk=np.fromiter(columns[0], dtype=np.int64, count=count),
        patient=_factorize(columns[1], count)[0],
        # Days since 1970-01-01, parsed by numpy in one call.
        first_date=np.array(columns[2], dtype="datetime64[D]").astype(np.int64).reshape(count),
        baseline_nrs=floats(columns[3]),
        baseline_odi=floats(columns[4]),
        dextrose_percent=floats(columns[5]),
        last_injection_day=np.fromiter(columns[6], dtype=np.int64, count=count),
        attributes={
            name: _factorize(columns[8 + i], count) for i, name in enumerate(COHORT_ATTRIBUTES)
        },
        scores=np.fromiter(
            (len(blob) // SERIES_DTYPE.itemsize for blob in series), dtype=np.int64, count=count
        ),
        packed=b"".join(series),
    )


def _factorize(values: Sequence[Any], count: int) -> tuple[IntArray, dict[str, int]]:
    """Codes for a column of text: numpy sorts fixed-width strings in C, objects it would not."""
    if count == 0:
        return np.zeros(0, dtype=np.int64), {}
    categories, codes = np.unique(np.array(values, dtype=str), return_inverse=True)
    return codes.astype(np.int64).reshape(count), {str(c): i for i, c in enumerate(categories)}


# PostgreSQL's binary COPY: a 19-byte header, then per row a field count and, per field, its
# length and big-endian bytes; a 2-byte trailer. Without the series every column has a fixed
# width (NULL floats come as NaN), so those rows are one numpy record each.
_COPY_HEADER = 19
_COPY_TRAILER = 2
_COPY_FIXED = np.dtype(
    [
        ("fields", ">i2"),
        ("l_pk", ">i4"), ("pk", ">i8"),
        ("l_patient", ">i4"), ("patient", "V16"),
        ("l_first", ">i4"), ("first", ">i4"),
        ("l_nrs", ">i4"), ("nrs", ">f8"),
        ("l_odi", ">i4"), ("odi", ">f8"),
        ("l_dextrose", ">i4"), ("dextrose", ">f8"),
        ("l_last", ">i4"), ("last", ">i4"),
        *[item for name in COHORT_ATTRIBUTES for item in ((f"l_{name}", ">i4"), (name, ">i8"))],
        ("l_length", ">i4"), ("length", ">i4"),
    ]
)  # fmt: skip
# A row of (id, series): field count, the id's length and value, the series' length.
_SERIES_ROW = struct.Struct(">hiqi")


# The value behind each attribute hash seen so far: a hash of a text never changes, so a
# reload asks the database only about values this process has not met.
_hashed_values: dict[str, dict[int, str]] = {name: {} for name in COHORT_ATTRIBUTES}
_hashed_lock = threading.Lock()


def _attribute_codes(
    clinic_id: uuid.UUID, categories_sql: str, fixed: np.ndarray
) -> dict[str, dict[str, int]] | None:
    """Each attribute's {value: hash} for the hashes in ``fixed``; None on a hash collision."""
    present = {name: np.unique(fixed[name]).astype(np.int64).tolist() for name in COHORT_ATTRIBUTES}
    with _hashed_lock:
        known = all(h in _hashed_values[name] for name in COHORT_ATTRIBUTES for h in present[name])
    if not known:
        with connection.cursor() as cursor:
            cursor.execute(categories_sql, [str(clinic_id)])
            groups = cursor.fetchall()
        learnt: dict[str, dict[int, str]] = {name: {} for name in COHORT_ATTRIBUTES}
        for row in groups:
            for i, name in enumerate(COHORT_ATTRIBUTES):
                value, hashed = row[2 * i], row[2 * i + 1]
                if value is None:
                    continue
                if learnt[name].setdefault(int(hashed), value) != value:
                    return None  # two values, one hash: let the plain fetch do it
        with _hashed_lock:
            for name in COHORT_ATTRIBUTES:
                for hashed, value in learnt[name].items():
                    if _hashed_values[name].setdefault(hashed, value) != value:
                        return None
    with _hashed_lock:
        if not all(h in _hashed_values[name] for name in COHORT_ATTRIBUTES for h in present[name]):
            return None  # a value went away between the two reads: let the plain fetch do it
        return {
            name: {_hashed_values[name][h]: h for h in present[name]} for name in COHORT_ATTRIBUTES
        }


def _copy_out(sql: str, params: list[Any]) -> memoryview:
    """The rows of ``sql`` in PostgreSQL's binary COPY format, on this thread's connection."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own cursor: copy_expert and mogrify
        statement = raw.mogrify(sql, params).decode()
        buffer = io.BytesIO()
        raw.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT binary)", buffer)
    return buffer.getbuffer()


def _copy_out_apart(sql: str, params: list[Any]) -> memoryview:
    """``_copy_out`` on a connection of its own (run in another thread), closed afterwards."""
    try:
        return _copy_out(sql, params)
    finally:
        connection.close()


def _courses_copy(clinic_id: uuid.UUID) -> _Courses | None:
    """PostgreSQL: two binary COPYs, the fixed-width columns (attributes as 64-bit hashes of
    their text, decoded by one small GROUP BY) and the packed series, parsed with numpy.

    Outside a transaction the two run at once on two connections; each reads its own snapshot,
    so they are matched by course id (a course written in between is simply left for the next
    load, which that write's version bump brings). None if the hashes of two different values of
    an attribute collide, so the caller falls back to the plain fetch."""
    table = connection.ops.quote_name(Course._meta.db_table)
    floats = [
        f"COALESCE({column}, 'NaN'::float8)"
        for column in ("baseline_nrs", "baseline_odi", "dextrose_percent")
    ]
    hashes = [f"hashtextextended({name}, 0)" for name in COHORT_ATTRIBUTES]
    fixed_sql = (
        f"SELECT id, patient_id, (first_injection_date - DATE '1970-01-01')::int4, "  # noqa: S608
        f"{', '.join(floats)}, last_injection_day::int4, {', '.join(hashes)}, "
        f"octet_length(series)::int4 FROM {table} WHERE clinic_id = %s ORDER BY id"
    )
    series_sql = f"SELECT id, series FROM {table} WHERE clinic_id = %s ORDER BY id"  # noqa: S608
    categories_sql = (
        f"SELECT {', '.join(f'{name}, hashtextextended({name}, 0)' for name in COHORT_ATTRIBUTES)} "  # noqa: S608
        f"FROM {table} WHERE clinic_id = %s "
        f"GROUP BY GROUPING SETS ({', '.join(f'({name})' for name in COHORT_ATTRIBUTES)})"
    )
    params = [str(clinic_id)]
    if connection.in_atomic_block:
        # Another connection would not see this transaction's rows.
        series_payload = _copy_out(series_sql, params)
        fixed_payload = _copy_out(fixed_sql, params)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_copy_out_apart, series_sql, params)
            fixed_payload = _copy_out(fixed_sql, params)
            series_payload = pending.result()
    body = len(fixed_payload) - _COPY_HEADER - _COPY_TRAILER
    fixed = np.frombuffer(
        fixed_payload, dtype=_COPY_FIXED, count=body // _COPY_FIXED.itemsize, offset=_COPY_HEADER
    )
    packed = _series_packed(series_payload, fixed)
    if packed is None:
        # The two reads saw different courses: match them row by row.
        ids, blobs = _series_rows(series_payload)
        keep_series = np.isin(ids, fixed["pk"])
        fixed = fixed[np.isin(fixed["pk"], ids)]
        blobs = [blob for blob, keep in zip(blobs, keep_series.tolist(), strict=True) if keep]
        lengths = np.fromiter((len(blob) for blob in blobs), dtype=np.int64, count=len(blobs))
        packed = (b"".join(blobs), lengths)
    codes = _attribute_codes(clinic_id, categories_sql, fixed)
    if codes is None:
        return None
    count = fixed.size
    _, patient = np.unique(fixed["patient"], return_inverse=True)
    return _Courses(
        pk=fixed["pk"].astype(np.int64),
        patient=patient.astype(np.int64).reshape(count),
        first_date=fixed["first"].astype(np.int64),
        baseline_nrs=fixed["nrs"].astype(np.float64),
        baseline_odi=fixed["odi"].astype(np.float64),
        dextrose_percent=fixed["dextrose"].astype(np.float64),
        last_injection_day=fixed["last"].astype(np.int64),
        attributes={
            name: (fixed[name].astype(np.int64), codes[name]) for name in COHORT_ATTRIBUTES
        },
        scores=packed[1] // SERIES_DTYPE.itemsize,
        packed=packed[0],
    )


def _series_packed(payload: memoryview, fixed: np.ndarray) -> tuple[bytes, IntArray] | None:
    """Every series of an (id, series) COPY joined: the lengths the fixed read gave place every
    row without parsing them one by one. None if the two reads do not describe the same rows."""
    lengths = fixed["length"].astype(np.int64)
    head = _SERIES_ROW.size
    starts = _COPY_HEADER + np.r_[0, np.cumsum(head + lengths)[:-1]] if lengths.size else lengths
    if _COPY_HEADER + int((head + lengths).sum()) + _COPY_TRAILER != len(payload):
        return None
    raw = np.frombuffer(payload, dtype=np.uint8)
    ids = raw[(starts[:, None] + np.arange(6, 14)).ravel()].view(">i8")
    if not np.array_equal(ids, fixed["pk"]):
        return None
    begins = (starts + head).tolist()
    ends = (starts + head + lengths).tolist()
    return b"".join([payload[b:e] for b, e in zip(begins, ends, strict=True)]), lengths


def _series_rows(payload: memoryview) -> tuple[IntArray, list[memoryview]]:
    """(id, series) rows of a binary COPY: the series vary in length, so one step per row."""
    ids, blobs = [], []
    head = _SERIES_ROW.size
    position, end = _COPY_HEADER, len(payload) - _COPY_TRAILER
    while position < end:
        _, _, pk, length = _SERIES_ROW.unpack_from(payload, position)
        ids.append(pk)
        blobs.append(payload[position + head : position + head + length])
        position += head + length
    return np.array(ids, dtype=np.int64), blobs


# --- The per-process frame cache -----------------------------------------------------------

_FRAMES_KEPT = 4
_frames: OrderedDict[uuid.UUID, ClinicFrame] = OrderedDict()
_frames_lock = threading.Lock()


def clinic_frame(clinic_id: uuid.UUID, version: int) -> ClinicFrame:
    """The clinic's frame at ``version``, loaded unless this process already holds it."""
    with _frames_lock:
        frame = _frames.get(clinic_id)
        if frame is not None and frame.version == version:
            _frames.move_to_end(clinic_id)
            return frame
    frame = frame_load(clinic_id, version)
    with _frames_lock:
        _frames[clinic_id] = frame
        _frames.move_to_end(clinic_id)
        while len(_frames) > _FRAMES_KEPT:
            _frames.popitem(last=False)
    return frame


def frames_forget() -> None:
    with _frames_lock:
        _frames.clear()
