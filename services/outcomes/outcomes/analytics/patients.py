"""Reads about single patients: the clinic's patient list, a patient's own recovery curve, and
the phone's progress view beside the typical band of comparable patients."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.selectors import cohort_curve
from outcomes.flags.models import Flag, FlagStatus
from outcomes.readmodel.models import (
    Course,
    Injection,
    Observation,
    ObservationKind,
    Patient,
    Prompt,
)

UNRESOLVED = (FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)


def _count(queryset: QuerySet[Any]) -> Coalesce:
    counted = queryset.order_by().values("patient_id").annotate(c=Count("*")).values("c")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def clinic_patients(*, clinic_id: uuid.UUID, flagged: bool | None = None) -> QuerySet[Patient]:
    """The clinic's patients with what the dashboard lists: latest NRS and its relief from the
    current course's baseline, injections given, adherence to prompts, unresolved flags.

    Ordered with the most unresolved flags first, then the most recent NRS."""
    patient = OuterRef("patient_id")
    nrs = Observation.objects.filter(
        patient_id=patient, kind=ObservationKind.NRS, deleted=False
    ).order_by("-occurred_at", "-id")
    course = Course.objects.filter(patient_id=patient).order_by("-first_injected_at", "-id")
    prompts = Prompt.objects.filter(patient_id=patient)
    patients = (
        Patient.objects.filter(clinic_id=clinic_id)
        .annotate(
            latest_nrs=Subquery(nrs.values("value")[:1]),
            latest_nrs_at=Subquery(nrs.values("occurred_at")[:1]),
            course_id=Subquery(course.values("course_id")[:1]),
            course_started_at=Subquery(course.values("first_injected_at")[:1]),
            baseline_nrs=Subquery(course.values("baseline_nrs")[:1]),
            injections=_count(Injection.objects.filter(patient_id=patient, deleted=False)),
            prompts_answered=_count(prompts.filter(answered_at__isnull=False)),
            prompts_closed=_count(
                prompts.filter(Q(answered_at__isnull=False) | Q(expired_at__isnull=False))
            ),
            open_flags=_count(
                Flag.objects.filter(patient_id=patient, clinic_id=clinic_id, status__in=UNRESOLVED)
            ),
        )
        .order_by("-open_flags", "-latest_nrs_at", "patient_id")
    )
    if flagged is True:
        patients = patients.filter(open_flags__gt=0)
    elif flagged is False:
        patients = patients.filter(open_flags=0)
    return patients


def percent_change(baseline: float | None, score: float | None) -> float | None:
    """Relief from baseline in percent; None without a baseline, or with a baseline of 0."""
    if baseline is None or score is None or baseline <= 0:
        return None
    return (baseline - score) / baseline * 100


def clinic_patient_get(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Patient:
    patient = Patient.objects.filter(clinic_id=clinic_id, patient_id=patient_id).first()
    if patient is None:
        raise Http404
    return patient


def _course_curve(course: Course) -> dict[str, Any]:
    rows = np.array(
        list(
            Observation.objects.filter(
                course_ref=course.pk, deleted=False, kind__in=[ObservationKind.NRS]
            )
            .order_by("occurred_at", "id")
            .values_list("day", "value")
        ),
        dtype=np.float64,
    ).reshape(-1, 2)
    weeks: list[dict[str, Any]] = []
    if rows.size:
        week = (rows[:, 0] // 7).astype(np.int64)
        unique, inverse, counts = np.unique(week, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=rows[:, 1]) / counts
        weeks = [
            {
                "week": int(w),
                "nrs": float(m),
                "percent_change": percent_change(course.baseline_nrs, float(m)),
                "scores": int(c),
            }
            for w, m, c in zip(unique, means, counts, strict=True)
        ]
    return {
        "course_id": str(course.course_id),
        "first_injection_date": course.first_injection_date.isoformat(),
        "injections": course.injection_count,
        "site": course.site or None,
        "solution": course.solution or None,
        "protocol": course.protocol or None,
        "baseline_nrs": course.baseline_nrs,
        "weeks": weeks,
    }


def clinic_patient_curve(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> dict[str, Any]:
    """Each of the patient's courses with its weekly NRS and relief from baseline."""
    patient = clinic_patient_get(clinic_id=clinic_id, patient_id=patient_id)
    courses = Course.objects.filter(patient_id=patient.patient_id).order_by("first_injected_at")
    return {
        "patient_id": str(patient.patient_id),
        "courses": [_course_curve(course) for course in courses],
    }


def _comparable(course: Course) -> CohortFilter:
    return CohortFilter(
        protocol=(course.protocol,) if course.protocol else (),
        site=(course.site,) if course.site else (),
    )


def patient_progress(*, patient_id: uuid.UUID) -> dict[str, Any]:
    """The patient's current course, week by week, beside the interquartile band of relief of
    the clinic's courses with the same protocol and site. The band is shown only at weeks with
    at least OUTCOMES_MIN_PATIENTS courses behind it."""
    course = (
        Course.objects.filter(patient_id=patient_id).order_by("-first_injected_at", "-id").first()
    )
    minimum = settings.OUTCOMES_MIN_PATIENTS
    if course is None:
        return {"course": None, "band": {"comparable_by": {}, "min_patients": minimum, "weeks": []}}
    cohort = _comparable(course)
    curve = cohort_curve(
        clinic_id=course.clinic_id,
        cohort=cohort,
        stale_seconds=settings.OUTCOMES_BAND_STALE_SECONDS,
    )
    band = [
        {
            "week": point["week"],
            "n": point["n"],
            "q1": point["q1"],
            "median": point["median"],
            "q3": point["q3"],
        }
        for point in curve["nrs_percent_change"]
        if point["n"] >= minimum
    ]
    return {
        "course": _course_curve(course),
        "band": {"comparable_by": cohort.params(), "min_patients": minimum, "weeks": band},
    }


def cohort_patient_ids(*, clinic_id: uuid.UUID, cohort: CohortFilter) -> list[uuid.UUID]:
    courses = cohort.filter_courses(Course.objects.filter(clinic_id=clinic_id))
    return list(courses.order_by().values_list("patient_id", flat=True).distinct())
