"""A clinic's read model as compact numpy arrays, and the per-course features derived from them.

One ``ClinicFrame`` holds every course of a clinic (cohort attributes as integer codes, baselines,
first date, day of the last injection) and, per instrument, the scores of the courses that have a
baseline for it (course index, day, score), grouped by course in time order. They come from the
courses' packed series (``Course.series``) in one read. A cohort is then a boolean mask over
courses, and each analysis a few vectorised reductions over features computed once per frame: the
weekly means behind the recovery curve, the score nearest each horizon, the times and events of
the Kaplan-Meier analyses. No Python loop runs per score.

Frames are kept per process for the clinic's current data version (see cache.py), so a worker
reads a clinic's rows once per change of its data, not once per request; after a change it reads
again only the course rows that changed (``frame_refresh``).
"""

from __future__ import annotations

import threading
import types
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast
from numpy.typing import NDArray
from scipy import sparse

from outcomes.analytics.horizons import (
    DURABILITY_ASSESSMENT_AFTER_LAST_INJECTION_DAYS,
    HORIZON_MONTHS,
    horizon_day,
    window_days,
)
from outcomes.readmodel.derive import SERIES_DTYPE
from outcomes.readmodel.models import (
    COHORT_ATTRIBUTES,
    Course,
    CourseCoTreatment,
    ObservationKind,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# Measures an observation can be summarised by.
NRS_PERCENT = "nrs_percent"  # (baseline - NRS) / baseline, in percent: relief
NRS_POINTS = "nrs_points"  # baseline - NRS, in points
ODI_POINTS = "odi_points"  # baseline ODI - ODI, in points
MEASURES = (NRS_PERCENT, NRS_POINTS, ODI_POINTS)

_EPOCH = date(1970, 1, 1)

# A course's scores are found by (course index, day) in one sorted int64 key per instrument:
# course index * 2**20 + day. Days are 0 or more (a score belongs to a course from its first
# injection on) and far below 2**20 (2,870 years).
_DAY_BITS = 20


def _instrument(measure: str) -> str:
    """The measures of one instrument share their observations (NRS relief and NRS points)."""
    return NRS_PERCENT if measure in (NRS_PERCENT, NRS_POINTS) else measure


@dataclass(frozen=True)
class Scores:
    """One instrument's scores of the courses with a usable baseline for it, grouped by course in
    time order. Course ``c``'s scores are ``[starts[c], ends[c])`` (empty for the others)."""

    course: IntArray
    day: NDArray[np.int32]
    score: FloatArray
    starts: IntArray
    ends: IntArray

    @property
    def counts(self) -> IntArray:
        return self.ends - self.starts


@dataclass(frozen=True)
class CurveTable:
    """One value per (course, week): the course's mean of the measure that week, grouped by week
    (``weeks[i]``'s values are ``[bounds[i], bounds[i + 1])``) in course order within a week."""

    course: IntArray
    value: FloatArray
    weeks: IntArray
    bounds: IntArray


@dataclass(frozen=True)
class HorizonValues:
    """Per course: the measure at the observation nearest the horizon (nan where none), and
    whether the course's window for that horizon has closed."""

    value: FloatArray
    day: IntArray
    due: BoolArray


@dataclass(frozen=True)
class TimeToEvent:
    """Per course: a Kaplan-Meier duration (whole days) and whether it ends in the event;
    ``valid`` marks the courses that enter the analysis."""

    time: IntArray
    event: BoolArray
    valid: BoolArray


@dataclass
class ClinicFrame:
    clinic_id: uuid.UUID
    version: int
    course_pk: IntArray  # ascending
    patient_index: IntArray  # the same number for the courses of one patient
    # Per attribute: each course's code, and the code of each value.
    attributes: dict[str, tuple[IntArray, dict[str, int]]]
    first_date: IntArray  # days since 1970-01-01
    baseline_nrs: FloatArray
    baseline_odi: FloatArray
    dextrose_percent: FloatArray
    last_injection_day: IntArray
    co_treatments: dict[str, BoolArray]
    nrs: Scores  # NRS of the courses with a baseline NRS above 0
    odi: Scores  # ODI of the courses with a baseline ODI
    # What a refresh needs (PostgreSQL loads only): the patient ids (16 bytes each) and the
    # revision of each course row (its xmin), to read again only the rows that changed.
    patient_id: NDArray[Any] | None = None
    revision: IntArray | None = None
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

    # --- Per-score measures ---------------------------------------------------------------------

    def scores(self, name: str) -> Scores:
        """The scores a measure is computed from."""
        return self.nrs if _instrument(name) == NRS_PERCENT else self.odi

    def measure(self, name: str) -> FloatArray:
        """The measure at each of ``scores(name)``."""
        return self._memo(("measure", name), lambda: self._measure(name))

    def _measure(self, name: str) -> FloatArray:
        scores = self.scores(name)
        if name == NRS_PERCENT:
            baseline = np.repeat(self.baseline_nrs, scores.counts)
            return np.asarray((baseline - scores.score) / baseline * 100.0)
        if name == NRS_POINTS:
            return np.asarray(np.repeat(self.baseline_nrs, scores.counts) - scores.score)
        if name == ODI_POINTS:
            return np.asarray(np.repeat(self.baseline_odi, scores.counts) - scores.score)
        raise ValueError(f"unknown measure {name!r}")

    def _key(self, name: str) -> IntArray:
        """(course, day) of each score as one ascending int64: found per course by bisection."""
        group = _instrument(name)

        def compute() -> IntArray:
            scores = self.scores(group)
            return np.asarray((scores.course << _DAY_BITS) + scores.day)

        return self._memo(("key", group), compute)

    def _course_keys(self, day: NDArray[np.integer[Any]] | int) -> IntArray:
        """Per course, the key of ``day`` (one day for all, or one per course)."""
        return np.asarray((np.arange(self.courses, dtype=np.int64) << _DAY_BITS) + day)

    # --- Recovery curve -------------------------------------------------------------------------

    def curve_table(self, name: str) -> CurveTable:
        return self._memo(("curve", name), lambda: self._curve_table(name))

    def _curve_table(self, name: str) -> CurveTable:
        scores = self.scores(name)
        values = self.measure(name)
        size = values.size
        if size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return CurveTable(empty, np.zeros(0), empty, np.zeros(1, dtype=np.int64))
        week = scores.day // 7
        # Scores are in (course, time) order, so each (course, week) is one run, starting where
        # the week changes or a course begins.
        new = np.empty(size, dtype=bool)
        new[0] = True
        np.not_equal(week[1:], week[:-1], out=new[1:])
        scored = np.flatnonzero(scores.ends > scores.starts)
        new[scores.starts[scored]] = True
        starts = np.flatnonzero(new)
        means = values[starts]
        # Most runs are one score; the sums of the others, over their [start, end) only.
        counts = np.empty(starts.size, dtype=np.int64)
        np.subtract(starts[1:], starts[:-1], out=counts[:-1])
        counts[-1] = size - starts[-1]
        several = np.flatnonzero(counts > 1)
        if several.size:
            bounds = np.empty(2 * several.size, dtype=np.int64)
            bounds[0::2] = starts[several]
            bounds[1::2] = starts[several] + counts[several]
            if bounds[-1] == size:
                sums = np.add.reduceat(np.append(values, 0.0), bounds)[0::2]
            else:
                sums = np.add.reduceat(values, bounds)[0::2]
            means[several] = sums / counts[several]
        # Regrouped by week: the runs are a sparse course x week matrix stored by course; stored
        # by week instead (one counting pass in C), each week's runs come in course order.
        runs = np.zeros(self.courses + 1, dtype=np.int64)
        runs[scored + 1] = np.add.reduceat(new, scores.starts[scored], dtype=np.int64)
        by_course = sparse.csr_matrix(
            (means, week[starts], np.cumsum(runs)), shape=(self.courses, int(week.max()) + 1)
        )
        by_week = by_course.tocsc()
        per_week = np.diff(by_week.indptr)
        weeks = np.flatnonzero(per_week)
        week_bounds = np.zeros(weeks.size + 1, dtype=np.int64)
        np.cumsum(per_week[weeks], out=week_bounds[1:])
        return CurveTable(
            by_week.indices.astype(np.int64), by_week.data, weeks.astype(np.int64), week_bounds
        )

    # --- Horizons -------------------------------------------------------------------------------

    def horizon(self, name: str, months: float, today: date) -> HorizonValues:
        key = ("horizon", name, months, today)
        return self._memo(key, lambda: self._horizon(name, months, today))

    def _positions(self, name: str, months: float) -> IntArray:
        """Per course, the score nearest the horizon within its window (-1 if none).

        The measures of one instrument share their scores, so they share this too; the standard
        horizons are found together (one row each).
        """
        if months in HORIZON_MONTHS:
            return np.asarray(self._standard_positions(name)[HORIZON_MONTHS.index(months)])
        group = _instrument(name)
        return self._memo(("positions", group, months), lambda: self._nearest(group, (months,))[0])

    def _standard_positions(self, name: str) -> IntArray:
        group = _instrument(name)
        return self._memo(("positions", group), lambda: self._nearest(group, HORIZON_MONTHS))

    def _nearest(self, name: str, horizons: Sequence[float]) -> IntArray:
        """Per horizon (rows) and course (columns), the score nearest the horizon day within its
        window, or -1. One bisection per course and horizon in the (course, day) key finds the
        first score on or after the horizon day; the one before it is on the last day before. Of
        two equally near, the earlier; of two on one day, the earlier in time (the first of the
        day's run)."""
        scores = self.scores(name)
        if scores.day.size == 0 or not horizons:
            return np.full((len(horizons), self.courses), -1, dtype=np.int64)
        day, starts, ends = scores.day, scores.starts[:, None], scores.ends[:, None]
        targets = np.array([horizon_day(months) for months in horizons], dtype=np.int64)
        windows = np.array([window_days(months) for months in horizons], dtype=np.int64)
        queries = self._course_keys(np.zeros(1, dtype=np.int64))[:, None] + targets
        by_key = np.argsort(targets, kind="stable")  # queries in ascending order, per course
        after = np.empty_like(queries)
        after[:, by_key] = np.searchsorted(self._key(name), queries[:, by_key].ravel()).reshape(
            queries.shape
        )
        after_gap = day[np.minimum(after, day.size - 1)] - targets
        after_ok = (after < ends) & (after_gap <= windows)
        before = np.maximum(after - 1, 0)
        before_gap = targets - day[before]
        before_ok = (after > starts) & (before_gap <= windows)
        take_before = before_ok & (~after_ok | (before_gap <= after_gap))
        chosen = np.where(after_ok & ~take_before, after, -1)
        # The earliest score of that day: step back while the score before is the same day.
        course_of = np.broadcast_to(starts, chosen.shape)[take_before]
        at = before[take_before]
        back = np.flatnonzero(at > course_of)
        while back.size:
            same = day[at[back] - 1] == day[at[back]]
            back = back[same]
            at[back] -= 1
            back = back[at[back] > course_of[back]]
        chosen[take_before] = at
        return chosen.T

    def due(self, months: float, today: date) -> BoolArray:
        """Courses whose window for the horizon has closed by ``today``."""
        return self._memo(
            ("due", months, today),
            lambda: (
                (today - _EPOCH).days - self.first_date >= horizon_day(months) + window_days(months)
            ),
        )

    def _horizon(self, name: str, months: float, today: date) -> HorizonValues:
        value, day = self._horizon_values(name, months)
        return HorizonValues(value=value, day=day, due=self.due(months, today))

    def _horizon_values(self, name: str, months: float) -> tuple[FloatArray, IntArray]:
        """Per course: the measure at the score nearest the horizon (nan if none), its day."""
        if months in HORIZON_MONTHS:
            values, days = self._memo(
                ("horizon values", name),
                lambda: self._measure_at(name, self._standard_positions(name)),
            )
            row = HORIZON_MONTHS.index(months)
            return np.asarray(values[row]), np.asarray(days[row])
        return self._memo(
            ("horizon values", name, months),
            lambda: self._measure_at(name, self._positions(name, months)),
        )

    def _measure_at(self, name: str, chosen: IntArray) -> tuple[FloatArray, IntArray]:
        """The measure and day at the chosen scores (nan and -1 where there is none); ``chosen``
        has one column per course."""
        scores = self.scores(name)
        if scores.day.size == 0:
            return np.full(chosen.shape, np.nan), np.full(chosen.shape, -1, dtype=np.int64)
        found = chosen >= 0
        at = np.where(found, chosen, 0)
        score = scores.score[at]
        if name == NRS_PERCENT:
            with np.errstate(divide="ignore", invalid="ignore"):  # baseline 0: no score there
                value = (self.baseline_nrs - score) / self.baseline_nrs * 100.0
        elif name == NRS_POINTS:
            value = self.baseline_nrs - score
        elif name == ODI_POINTS:
            value = self.baseline_odi - score
        else:
            raise ValueError(f"unknown measure {name!r}")
        return np.where(found, value, np.nan), np.where(found, scores.day[at], -1).astype(np.int64)

    def responders(self, name: str, months: float, threshold: float) -> tuple[BoolArray, BoolArray]:
        """Per course: scored at the horizon, and scored at least ``threshold`` there."""

        def compute() -> tuple[BoolArray, BoolArray]:
            value = self._horizon_values(name, months)[0]
            return ~np.isnan(value), value >= threshold

        return self._memo(("responders", name, months, threshold), compute)

    # --- Kaplan-Meier ---------------------------------------------------------------------------

    def time_to_relief(self, threshold: float) -> TimeToEvent:
        """Days from the first injection to the first NRS with at least ``threshold`` % relief;
        censored at the last NRS of the course (last follow-up)."""
        return self._memo(("relief", threshold), lambda: self._time_to_relief(threshold))

    def _time_to_relief(self, threshold: float) -> TimeToEvent:
        relieved = self.measure(NRS_PERCENT) >= threshold
        return self._first_event_or_last(self.nrs.starts, relieved)

    def durability(self, threshold: float) -> TimeToEvent:
        """Days from the first injection until relief of at least ``threshold`` % is lost.

        Assessment starts 14 days after the course's last injection (Kim 2010). The event is the
        first NRS from then on with less relief than the threshold (so a course without relief
        at its first assessment fails then); a course that keeps its relief is censored at its
        last NRS. Courses with no NRS since assessment started are not yet in the analysis.
        """
        return self._memo(("durability", threshold), lambda: self._durability(threshold))

    def _durability(self, threshold: float) -> TimeToEvent:
        if self.nrs.day.size == 0:
            return self._first_event_or_last(self.nrs.starts, np.zeros(0, dtype=bool))
        start = self.last_injection_day + DURABILITY_ASSESSMENT_AFTER_LAST_INJECTION_DAYS
        assessed_from = np.searchsorted(self._key(NRS_PERCENT), self._course_keys(start))
        lost = self.measure(NRS_PERCENT) < threshold
        return self._first_event_or_last(assessed_from, lost)

    def _first_event_or_last(self, begins: IntArray, events: BoolArray) -> TimeToEvent:
        """Per course, over its NRS from ``begins`` on: the day of the first event, else
        (censored) the day of the last score; courses with no score from ``begins`` are not
        in the analysis."""
        scores = self.nrs
        ends = scores.ends
        valid = begins < ends
        time = np.zeros(self.courses, dtype=np.int64)
        event = np.zeros(self.courses, dtype=bool)
        if not valid.any():
            return TimeToEvent(time=time, event=event, valid=valid)
        # The first event at or after each course's beginning, by bisection among all events.
        happened = np.flatnonzero(events)
        first = np.searchsorted(happened, begins)
        first = happened[np.minimum(first, happened.size - 1)] if happened.size else ends
        event = valid & (first >= begins) & (first < ends)
        last = np.maximum(ends - 1, 0)
        time = np.where(event, scores.day[np.where(event, first, last)], scores.day[last])
        time = np.where(valid, time, 0).astype(np.int64)
        return TimeToEvent(time=time, event=event, valid=valid)


# --- Loading --------------------------------------------------------------------------------------


@dataclass
class _Courses:
    """A clinic's course rows as columns, in course id order, with their packed scores: course
    ``i``'s ``scores[i]`` scores start at byte ``series_at[i]`` of ``buffer``."""

    pk: IntArray
    patient: IntArray
    first_date: IntArray
    baseline_nrs: FloatArray
    baseline_odi: FloatArray
    dextrose_percent: FloatArray
    last_injection_day: IntArray
    attributes: dict[str, tuple[IntArray, dict[str, int]]]
    buffer: bytes
    series_at: IntArray
    scores: IntArray
    patient_id: NDArray[Any] | None = None
    revision: IntArray | None = None


def frame_load(clinic_id: uuid.UUID, version: int) -> ClinicFrame:
    """The clinic's frame: one read of its course rows (PostgreSQL: one binary COPY)."""
    courses = _courses_copy(clinic_id) if connection.vendor == "postgresql" else None
    if courses is None:
        courses = _courses_fetch(clinic_id)
    scores = _instruments(courses, _usable(courses))
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
        co_treatments=_co_treatments(clinic_id, courses.pk),
        nrs=scores[ObservationKind.NRS],
        odi=scores[ObservationKind.ODI],
        patient_id=courses.patient_id,
        revision=courses.revision,
    )


def _usable(courses: _Courses) -> dict[int, BoolArray]:
    # Relief needs a baseline above 0 (no pain to relieve otherwise), ODI points a baseline.
    return {
        ObservationKind.NRS: courses.baseline_nrs > 0,
        ObservationKind.ODI: ~np.isnan(courses.baseline_odi),
    }


# A refresh reads the revision of every course row, then the rows that changed: worth it while
# they are at most this share of the clinic's courses.
_REFRESH_AT_MOST = 0.5


def frame_refresh(frame: ClinicFrame, version: int) -> ClinicFrame | None:
    """The clinic's frame at ``version`` built from an older one: every course row whose
    revision (xmin, which every write of a row changes) is the one the frame holds is kept,
    the others are read again, and rows gone are dropped. None when it cannot (not PostgreSQL,
    the older frame came from the plain fetch) or would not pay; the caller then loads.

    The revisions and the changed rows are two reads: a row changed between them is read in
    its newer state, or kept in its older one if it changed after the first; either way its
    change bumps the clinic's version again, and the next refresh sees its new revision."""
    if (
        frame.revision is None
        or frame.patient_id is None
        or connection.vendor != "postgresql"
        or connection.in_atomic_block  # its own writes would keep their rows' revisions
    ):
        return None
    current = _revisions(frame.clinic_id)
    if current is None:
        return None
    pk, revision = current
    held = frame.course_pk
    at = np.minimum(np.searchsorted(held, pk), max(held.size - 1, 0))
    unchanged = np.zeros(pk.size, dtype=bool)
    if held.size:
        unchanged = (held[at] == pk) & (frame.revision[at] == revision)
    changed = pk[~unchanged]
    if changed.size > _REFRESH_AT_MOST * max(pk.size, 1):
        return None
    fresh = _courses_copy(frame.clinic_id, only=changed) if changed.size else _no_courses()
    if fresh is None or fresh.patient_id is None or fresh.revision is None:
        return None
    kept = at[unchanged]
    return _frame_merge(
        frame,
        kept,
        fresh,
        version,
        patient_id=np.concatenate([frame.patient_id[kept], fresh.patient_id]),
        revision=np.concatenate([frame.revision[kept], fresh.revision]),
    )


def _no_courses() -> _Courses:
    none = np.zeros(0, dtype=np.int64)
    return _Courses(
        pk=none, patient=none, first_date=none, baseline_nrs=np.zeros(0),
        baseline_odi=np.zeros(0), dextrose_percent=np.zeros(0), last_injection_day=none,
        attributes={name: (none, {}) for name in COHORT_ATTRIBUTES}, buffer=b"",
        series_at=none, scores=none, patient_id=np.zeros(0, dtype="V16"), revision=none,
    )  # fmt: skip


def _frame_merge(
    frame: ClinicFrame,
    kept: IntArray,
    fresh: _Courses,
    version: int,
    *,
    patient_id: NDArray[Any],
    revision: IntArray,
) -> ClinicFrame:
    """The ``kept`` courses of ``frame`` and the ``fresh`` ones, as one frame in id order;
    ``patient_id`` and ``revision``: the kept courses' then the fresh ones'."""
    pk = np.concatenate([frame.course_pk[kept], fresh.pk])
    order = np.argsort(pk, kind="stable")

    def merged(old: NDArray[Any], new: NDArray[Any]) -> NDArray[Any]:
        return np.concatenate([old[kept], new])[order]

    attributes: dict[str, tuple[IntArray, dict[str, int]]] = {}
    for name in COHORT_ATTRIBUTES:
        codes, known = frame.attributes[name]
        new_codes, new_lookup = fresh.attributes[name]
        lookup = dict(known)
        # The fresh rows' codes in the frame's numbering; a value it has not met gets the next.
        remap = np.zeros(len(new_lookup), dtype=np.int64)
        for value, number in new_lookup.items():
            remap[number] = lookup.setdefault(value, len(lookup))
        attributes[name] = (merged(codes, remap[new_codes]), lookup)
    fresh_scores = _instruments(fresh, _usable(fresh))
    patient_id = patient_id[order]
    return ClinicFrame(
        clinic_id=frame.clinic_id,
        version=version,
        course_pk=pk[order],
        patient_index=_patient_index(patient_id),
        attributes=attributes,
        first_date=merged(frame.first_date, fresh.first_date),
        baseline_nrs=merged(frame.baseline_nrs, fresh.baseline_nrs),
        baseline_odi=merged(frame.baseline_odi, fresh.baseline_odi),
        dextrose_percent=merged(frame.dextrose_percent, fresh.dextrose_percent),
        last_injection_day=merged(frame.last_injection_day, fresh.last_injection_day),
        # Read again whole: a course's co-treatments are rows of their own, which can change
        # while the course row does not (an entry logging physiotherapy and no score).
        co_treatments=_co_treatments(frame.clinic_id, pk[order]),
        nrs=_scores_merge(frame.nrs, kept, fresh_scores[ObservationKind.NRS], order),
        odi=_scores_merge(frame.odi, kept, fresh_scores[ObservationKind.ODI], order),
        patient_id=patient_id,
        revision=revision[order],
    )


def _scores_merge(old: Scores, kept: IntArray, new: Scores, order: IntArray) -> Scores:
    """The scores of the ``kept`` courses of ``old`` and of every course of ``new``, for the
    courses in ``order`` (kept first, then new): one gather per field."""
    begins = np.concatenate([old.starts[kept], new.starts + old.day.size])[order]
    counts = np.concatenate([old.counts[kept], new.counts])[order]
    total = int(counts.sum())
    ends = np.cumsum(counts)
    at = np.repeat(begins - (ends - counts), counts) + np.arange(total, dtype=np.int64)
    return Scores(
        course=np.repeat(np.arange(counts.size, dtype=np.int64), counts),
        day=np.concatenate([old.day, new.day])[at],
        score=np.concatenate([old.score, new.score])[at],
        starts=ends - counts,
        ends=ends,
    )


_SCORE_SIZE = SERIES_DTYPE.itemsize
# Where each field of a packed score starts.
_AT = {name: int(field[1]) for name, field in (SERIES_DTYPE.fields or {}).items()}
_DAY_AT, _KIND_AT, _VALUE_AT = _AT["day"], _AT["kind"], _AT["value"]


def _unaligned(buffer: bytes, dtype: str) -> NDArray[Any]:
    """Every position of ``buffer`` read as ``dtype``: a view to pick fields out of packed
    records with one gather, however they are aligned."""
    width = np.dtype(dtype).itemsize
    count = max(len(buffer) - width + 1, 0)
    return np.ndarray(shape=(count,), dtype=dtype, buffer=buffer, strides=(1,))


def _instruments(courses: _Courses, wanted: dict[int, BoolArray]) -> dict[int, Scores]:
    """Per kind of score, its scores of the courses ``wanted[kind]`` marks, read out of the
    packed series: the byte offset of every score, then one gather per field."""
    counts = courses.scores
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    # A score's offset: its course's series start plus 13 bytes per score before it.
    offsets = np.arange(0, total * _SCORE_SIZE, _SCORE_SIZE, dtype=np.int64)
    offsets += np.repeat(courses.series_at - first * _SCORE_SIZE, counts)
    raw = np.frombuffer(courses.buffer, dtype=np.uint8)
    kinds = raw[offsets + _KIND_AT]
    days = _unaligned(courses.buffer, "<i4")
    values = _unaligned(courses.buffer, "<f8")
    scored = np.flatnonzero(counts)
    found: dict[int, Scores] = {}
    for kind, usable in wanted.items():
        chosen = kinds == kind
        chosen &= np.repeat(usable, counts)
        at = offsets[chosen]
        day = days[at + _DAY_AT].astype(np.int32, copy=False)
        if not np.all((day >= 0) & (day < 2**_DAY_BITS)):
            # A score belongs to a course from its first injection on: never before day 0.
            chosen[np.flatnonzero(chosen)[(day < 0) | (day >= 2**_DAY_BITS)]] = False
            at = offsets[chosen]
            day = days[at + _DAY_AT].astype(np.int32, copy=False)
        per_course = np.zeros(counts.size, dtype=np.int64)
        if scored.size:
            per_course[scored] = np.add.reduceat(chosen, first[scored], dtype=np.int64)
        ends = np.cumsum(per_course)
        found[kind] = Scores(
            course=np.repeat(np.arange(counts.size, dtype=np.int64), per_course),
            day=day,
            score=values[at + _VALUE_AT].astype(np.float64, copy=False),
            starts=ends - per_course,
            ends=ends,
        )
    return found


def _co_treatments(clinic_id: uuid.UUID, pks: IntArray) -> dict[str, BoolArray]:
    """Per co-treatment, which of the courses ``pks`` (ascending) had it."""
    rows = CourseCoTreatment.objects.filter(course__clinic_id=clinic_id)
    by_code: dict[str, list[int]] = defaultdict(list)
    for course, code in rows.values_list("course_id", "code"):
        by_code[code].append(course)
    flags: dict[str, BoolArray] = {}
    for code, ids in by_code.items():
        wanted = np.array(ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(pks, wanted), max(pks.size - 1, 0))
        known = at[pks[at] == wanted] if pks.size else at[:0]  # a course read later is left out
        flags[code] = np.zeros(pks.size, dtype=bool)
        flags[code][known] = True
    return flags


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
    lengths = np.fromiter((len(blob) for blob in series), dtype=np.int64, count=count)
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
        buffer=b"".join(series),
        series_at=np.cumsum(lengths) - lengths,
        scores=lengths // _SCORE_SIZE,
    )


def _factorize(values: Sequence[Any], count: int) -> tuple[IntArray, dict[str, int]]:
    """Codes for a column of text: numpy sorts fixed-width strings in C, objects it would not."""
    if count == 0:
        return np.zeros(0, dtype=np.int64), {}
    categories, codes = np.unique(np.array(values, dtype=str), return_inverse=True)
    return codes.astype(np.int64).reshape(count), {str(c): i for i, c in enumerate(categories)}


# PostgreSQL's binary COPY: a 19-byte header, then per row a field count and, per field, its
# length and big-endian bytes; a 2-byte trailer. Every column but the last (the series) has a
# fixed width (NULL floats come as NaN), so the head of each row is one numpy record.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19
_COPY_TRAILER = 2
_COPY_HEAD = np.dtype(
    [
        ("fields", ">i2"),
        ("l_pk", ">i4"), ("pk", ">i8"),
        ("l_patient", ">i4"), ("patient", "V16"),
        ("l_first", ">i4"), ("first", ">i4"),
        ("l_nrs", ">i4"), ("nrs", ">f8"),
        ("l_odi", ">i4"), ("odi", ">f8"),
        ("l_dextrose", ">i4"), ("dextrose", ">f8"),
        ("l_last", ">i4"), ("last", ">i4"),
        ("l_attributes", ">i4"), ("attributes", ">i8"),
        ("l_revision", ">i4"), ("revision", ">u4"),
        ("l_series", ">i4"),
    ]
)  # fmt: skip
_COPY_FIELDS = 10
# The attributes travel as the course's key of their combination (Course.cohort_key: one number
# rather than eight texts); the combination behind a key is learnt once per process.
_combinations: dict[tuple[uuid.UUID, int], tuple[str, ...]] = {}
_combinations_lock = threading.Lock()


def _copy_rows(sql: str, params: list[Any]) -> list[bytes]:
    """The rows of ``sql`` in PostgreSQL's binary COPY format, one bytes object per row as
    libpq delivers them (the header arrives with the first row, the trailer on its own)."""
    rows: list[bytes] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own cursor: copy_expert and mogrify
        statement = raw.mogrify(sql, params).decode()
        # A write per row, straight into a list: no Python code runs per row.
        sink = types.SimpleNamespace(write=rows.append)
        raw.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT binary)", sink, 1 << 20)
    return rows


def _courses_copy(clinic_id: uuid.UUID, only: IntArray | None = None) -> _Courses | None:
    """PostgreSQL: one binary COPY of the course rows (fixed-width columns, then the series),
    parsed with numpy: each row's length is that of the piece libpq delivered it in, so every
    row's head is one record and every score one gather away. One statement, one snapshot.
    ``only``: the rows of these course ids alone.

    None if the rows are not as expected, or two attribute combinations share a key: the
    caller then falls back to the plain fetch."""
    table = connection.ops.quote_name(Course._meta.db_table)
    floats = [
        f"COALESCE({column}, 'NaN'::float8)"
        for column in ("baseline_nrs", "baseline_odi", "dextrose_percent")
    ]
    sql = (
        f"SELECT id, patient_id, (first_injection_date - DATE '1970-01-01')::int4, "  # noqa: S608
        f"{', '.join(floats)}, last_injection_day::int4, cohort_key, xmin, series "
        f"FROM {table} WHERE clinic_id = %s"
    )
    params: list[Any] = [str(clinic_id)]
    if only is not None:
        sql += " AND id = ANY(%s)"
        params.append(only.tolist())
    rows = _copy_rows(sql, params)
    buffer = b"".join(rows)
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if not (
        len(buffer) >= _COPY_HEADER + _COPY_TRAILER
        and buffer.startswith(_COPY_SIGNATURE)
        and buffer.endswith(b"\xff\xff")
    ):
        return None
    lengths[0] -= _COPY_HEADER
    lengths[-1] -= _COPY_TRAILER
    lengths = lengths[lengths > 0]
    head_size = _COPY_HEAD.itemsize
    if lengths.size and lengths.min() < head_size:
        return None
    starts = _COPY_HEADER + np.cumsum(lengths) - lengths
    raw = np.frombuffer(buffer, dtype=np.uint8)
    windows = np.lib.stride_tricks.as_strided(
        raw, shape=(max(raw.size - head_size + 1, 0), head_size), strides=(1, 1), writeable=False
    )
    heads = windows[starts].view(_COPY_HEAD).ravel()
    series_length = lengths - head_size
    expected = {
        "fields": _COPY_FIELDS, "l_pk": 8, "l_patient": 16, "l_first": 4, "l_nrs": 8,
        "l_odi": 8, "l_dextrose": 8, "l_last": 4, "l_attributes": 8, "l_revision": 4,
    }  # fmt: skip
    if not (
        all(np.all(heads[name] == width) for name, width in expected.items())
        and np.array_equal(heads["l_series"], series_length)
        and not np.any(series_length % _SCORE_SIZE)
    ):
        return None  # not one row per piece: let the plain fetch do it
    if np.any(heads["pk"][1:] <= heads["pk"][:-1]):  # rows come in the table's order
        order = np.argsort(heads["pk"], kind="stable")
        heads, starts, series_length = heads[order], starts[order], series_length[order]
    attributes = _attribute_codes(clinic_id, table, heads["attributes"].astype(np.int64))
    if attributes is None:
        return None
    patient_id = np.ascontiguousarray(heads["patient"])
    return _Courses(
        pk=heads["pk"].astype(np.int64),
        patient=_patient_index(patient_id),
        first_date=heads["first"].astype(np.int64),
        baseline_nrs=heads["nrs"].astype(np.float64),
        baseline_odi=heads["odi"].astype(np.float64),
        dextrose_percent=heads["dextrose"].astype(np.float64),
        last_injection_day=heads["last"].astype(np.int64),
        attributes=attributes,
        buffer=buffer,
        series_at=starts + head_size,
        scores=series_length // _SCORE_SIZE,
        patient_id=patient_id,
        # Inside a transaction its writes keep one revision: such a frame is never refreshed.
        revision=None if connection.in_atomic_block else heads["revision"].astype(np.int64),
    )


_REVISION_ROW = np.dtype(
    [("fields", ">i2"), ("l_pk", ">i4"), ("pk", ">i8"), ("l_rev", ">i4"), ("rev", ">u4")]
)


def _revisions(clinic_id: uuid.UUID) -> tuple[IntArray, IntArray] | None:
    """Every course row of the clinic: its id (ascending) and revision (xmin)."""
    table = connection.ops.quote_name(Course._meta.db_table)
    rows = _copy_rows(
        f"SELECT id, xmin FROM {table} WHERE clinic_id = %s",  # noqa: S608
        [str(clinic_id)],
    )
    buffer = b"".join(rows)
    body = len(buffer) - _COPY_HEADER - _COPY_TRAILER
    if body < 0 or body % _REVISION_ROW.itemsize or not buffer.startswith(_COPY_SIGNATURE):
        return None
    found = np.frombuffer(
        buffer, dtype=_REVISION_ROW, count=body // _REVISION_ROW.itemsize, offset=_COPY_HEADER
    )
    if not (
        np.all(found["fields"] == 2) and np.all(found["l_pk"] == 8) and np.all(found["l_rev"] == 4)
    ):
        return None
    order = np.argsort(found["pk"], kind="stable")
    return found["pk"][order].astype(np.int64), found["rev"][order].astype(np.int64)


def _patient_index(patients: NDArray[Any]) -> IntArray:
    """The same number for equal patient ids (16 bytes each): grouped by their first 8 bytes,
    checked on the other 8 (a clash of the first 8 sends it to the full comparison)."""
    if patients.size == 0:
        return np.zeros(0, dtype=np.int64)
    halves = patients.view(np.uint64).reshape(-1, 2)
    _, first, index = np.unique(halves[:, 0], return_index=True, return_inverse=True)
    if np.array_equal(halves[first, 1][index], halves[:, 1]):
        return index.astype(np.int64).ravel()
    return np.unique(patients, return_inverse=True)[1].astype(np.int64).ravel()


def _attribute_codes(
    clinic_id: uuid.UUID, table: str, keys: IntArray
) -> dict[str, tuple[IntArray, dict[str, int]]] | None:
    """Each attribute's codes per course, from the key of each course's combination; None if
    two combinations share a key."""
    present, inverse = np.unique(keys, return_inverse=True)
    wanted = [(clinic_id, key) for key in present.tolist()]
    with _combinations_lock:
        # 0 is the column's default (a row written before keys were kept): never trusted.
        known = all(key in _combinations for key in wanted if key[1] != 0) and 0 not in present
    if not known:
        columns = ", ".join(COHORT_ATTRIBUTES)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT cohort_key, {columns} FROM {table} "  # noqa: S608
                f"WHERE clinic_id = %s GROUP BY cohort_key, {columns}",
                [str(clinic_id)],
            )
            groups = cursor.fetchall()
        learnt: dict[tuple[uuid.UUID, int], tuple[str, ...]] = {}
        for row in groups:
            key, values = (clinic_id, int(row[0])), tuple(row[1:])
            if learnt.setdefault(key, values) != values:
                return None  # two combinations, one key: let the plain fetch do it
        with _combinations_lock:
            _combinations.update(learnt)
    else:
        learnt = {}
    with _combinations_lock:
        combinations = [learnt.get(key) or _combinations.get(key) for key in wanted]
    if any(combination is None for combination in combinations):
        return None  # a combination went away between the two reads
    codes: dict[str, tuple[IntArray, dict[str, int]]] = {}
    for i, name in enumerate(COHORT_ATTRIBUTES):
        column = [combination[i] for combination in combinations if combination is not None]
        lookup = {value: code for code, value in enumerate(sorted(set(column)))}
        per_combination = np.array([lookup[value] for value in column], dtype=np.int64)
        codes[name] = (per_combination[inverse].ravel(), lookup)
    return codes


# --- The per-process frame cache -----------------------------------------------------------

_FRAMES_KEPT = 4
_frames: OrderedDict[uuid.UUID, ClinicFrame] = OrderedDict()
_frames_lock = threading.Lock()


def clinic_frame(clinic_id: uuid.UUID, version: int) -> ClinicFrame:
    """The clinic's frame at ``version``: the one this process holds, else that one refreshed
    with the courses changed since, else loaded."""
    with _frames_lock:
        held = _frames.get(clinic_id)
        if held is not None and held.version == version:
            _frames.move_to_end(clinic_id)
            return held
    frame = frame_refresh(held, version) if held is not None else None
    if frame is None:
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
