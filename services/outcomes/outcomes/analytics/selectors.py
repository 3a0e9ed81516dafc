"""Cohort analyses of one clinic: recovery curves, responder rates, Kaplan-Meier curves and the
benchmark comparison. Each returns plain data (percent, days, counts) that an API or a page can
show as it is, with the number of patients behind every figure.

Callers pass the clinic from the caller's token, never from the request.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
from django.forms.models import model_to_dict
from django.utils import timezone

from outcomes.analytics.cache import cached_result
from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.comparison import comparison
from outcomes.analytics.frame import (
    NRS_PERCENT,
    NRS_POINTS,
    ODI_POINTS,
    BoolArray,
    ClinicFrame,
    IntArray,
    TimeToEvent,
    clinic_frame,
)
from outcomes.analytics.horizons import (
    HORIZON_MONTHS,
    NRS_MCID_POINTS,
    ODI_MCID_POINTS,
    RELIEF_THRESHOLD_PERCENT,
    RESPONDER_THRESHOLDS_PERCENT,
    horizon_day,
    window_days,
)
from outcomes.analytics.stats import kaplan_meier, runs_stats, wilson_interval
from outcomes.benchmarks.models import COMPARABLE_KINDS, Benchmark

# (measure, threshold) pairs reported at every horizon.
RESPONDER_ENDPOINTS: tuple[tuple[str, float], ...] = (
    *((NRS_PERCENT, threshold) for threshold in RESPONDER_THRESHOLDS_PERCENT),
    (NRS_POINTS, NRS_MCID_POINTS),
    (ODI_POINTS, ODI_MCID_POINTS),
)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _today() -> date:
    return timezone.now().date()


def _header(frame: ClinicFrame, mask: BoolArray, cohort: CohortFilter) -> dict[str, Any]:
    return {
        "filters": cohort.params(),
        "courses": int(np.count_nonzero(mask)),
        "patients": int(np.count_nonzero(np.bincount(frame.patient_index[mask]))),
        "with_baseline": int(np.count_nonzero(mask & (frame.baseline_nrs > 0))),
    }


def _analysis(
    analysis: str,
    clinic_id: uuid.UUID,
    cohort: CohortFilter,
    compute: Callable[[ClinicFrame, BoolArray], dict[str, Any]],
    stale_seconds: int = 0,
    **params: Any,
) -> dict[str, Any]:
    def run(version: int) -> tuple[dict[str, Any], int]:
        frame = clinic_frame(clinic_id, version)
        mask = cohort.mask(frame)
        result = {"cohort": _header(frame, mask, cohort), **compute(frame, mask)}
        return result, result["cohort"]["courses"]

    return cached_result(
        clinic_id=clinic_id,
        analysis=analysis,
        params={**cohort.params(), **params},
        compute=run,
        stale_seconds=stale_seconds,
    )


# --- Recovery curve -------------------------------------------------------------------------------


def _curve_points(frame: ClinicFrame, mask: BoolArray, measure: str) -> list[dict[str, Any]]:
    table = frame.curve_table(measure)
    if mask.all():
        summary = runs_stats(table.weeks, np.diff(table.bounds), table.value)
    else:
        keep = mask[table.course]
        kept: IntArray = (
            np.add.reduceat(keep, table.bounds[:-1], dtype=np.int64)
            if keep.size
            else np.zeros(0, dtype=np.int64)
        )
        summary = runs_stats(table.weeks, kept, table.value[keep])
    return [
        {
            "week": int(summary.keys[i]),
            "n": int(summary.n[i]),
            "median": float(summary.median[i]),
            "q1": float(summary.q1[i]),
            "q3": float(summary.q3[i]),
            "mean": float(summary.mean[i]),
            "ci_low": _number(summary.ci_low[i]),
            "ci_high": _number(summary.ci_high[i]),
        }
        for i in range(summary.keys.size)
    ]


def cohort_curve(
    *, clinic_id: uuid.UUID, cohort: CohortFilter, stale_seconds: int = 0
) -> dict[str, Any]:
    """By week since the first injection: NRS relief (percent change from baseline) and ODI
    improvement (points), each as median, quartiles and mean with 95 % CI, and n per week.

    ``stale_seconds``: an answer computed from data that old is acceptable (see cache.py)."""

    def compute(frame: ClinicFrame, mask: BoolArray) -> dict[str, Any]:
        return {
            "nrs_percent_change": _curve_points(frame, mask, NRS_PERCENT),
            "odi_points_change": _curve_points(frame, mask, ODI_POINTS),
        }

    return _analysis("curve", clinic_id, cohort, compute, stale_seconds=stale_seconds)


# --- Responder rates ------------------------------------------------------------------------------


def _responders(frame: ClinicFrame, mask: BoolArray, today: date) -> dict[str, Any]:
    horizons = []
    for months in HORIZON_MONTHS:
        endpoints = []
        due = int(np.count_nonzero(frame.due(months, today) & mask))
        for measure, threshold in RESPONDER_ENDPOINTS:
            scored, reached = frame.responders(measure, months, threshold)
            n = int(np.count_nonzero(scored & mask))
            responders = int(np.count_nonzero(reached & mask))
            low, high = wilson_interval(responders, n)
            endpoints.append(
                {
                    "measure": measure,
                    "threshold": threshold,
                    "n": n,
                    "responders": responders,
                    "percent": responders / n * 100 if n else None,
                    "ci_low": _number(low * 100),
                    "ci_high": _number(high * 100),
                }
            )
        horizons.append(
            {
                "months": months,
                "day": horizon_day(months),
                "window_days": window_days(months),
                "due": due,
                "endpoints": endpoints,
            }
        )
    return {"horizons": horizons}


def cohort_responders(*, clinic_id: uuid.UUID, cohort: CohortFilter) -> dict[str, Any]:
    """Responder rates at 3, 6, 12, 15 and 24 months with Wilson intervals: NRS relief of at
    least 30 % and 50 %, NRS at least 2 points better, ODI at least 10 points better.

    ``due`` counts the cohort's courses whose window for the horizon has closed: next to ``n``
    it shows how many were not followed up."""
    today = _today()

    def compute(frame: ClinicFrame, mask: BoolArray) -> dict[str, Any]:
        return _responders(frame, mask, today)

    return _analysis("responders", clinic_id, cohort, compute, today=today.isoformat())


# --- Kaplan-Meier ---------------------------------------------------------------------------------


def _km(times: TimeToEvent, mask: BoolArray, *, reached: bool) -> dict[str, Any]:
    """A Kaplan-Meier curve; ``reached`` reports 1 - S (the share that has reached relief)."""
    included = mask & times.valid
    km = kaplan_meier(times.time[included], times.event[included])

    def shown(s: float, low: float, high: float) -> tuple[float, float, float]:
        if reached:
            return (1 - s) * 100, (1 - high) * 100, (1 - low) * 100
        return s * 100, low * 100, high * 100

    timeline = []
    for i in range(km.times.size):
        estimate, low, high = shown(km.survival[i], km.ci_low[i], km.ci_high[i])
        timeline.append(
            {
                "day": int(km.times[i]),
                "at_risk": int(km.at_risk[i]),
                "events": int(km.events[i]),
                "censored": int(km.censored[i]),
                "percent": estimate,
                "ci_low": low,
                "ci_high": high,
            }
        )
    at_horizons = []
    for months in HORIZON_MONTHS:
        day = horizon_day(months)
        s, low, high, at_risk = km.at(day)
        estimate, low, high = shown(s, low, high)
        at_horizons.append(
            {
                "months": months,
                "day": day,
                "percent": estimate,
                "ci_low": low,
                "ci_high": high,
                "at_risk": at_risk,
            }
        )
    median = km.median()
    return {
        "n": km.n,
        "events": int(km.events.sum()),
        "median_days": median,
        "timeline": timeline,
        "at_horizons": at_horizons,
    }


def cohort_survival(
    *, clinic_id: uuid.UUID, cohort: CohortFilter, threshold: float = RELIEF_THRESHOLD_PERCENT
) -> dict[str, Any]:
    """Kaplan-Meier curves with Greenwood (log-log) 95 % intervals, by day since the first
    injection:

    - ``time_to_relief``: the share that has reached at least ``threshold`` % relief;
      ``median_days`` is the median time to reach it;
    - ``durability``: the share still keeping at least ``threshold`` % relief (Kim 2010's
      endpoint); ``median_days`` is the median time relief lasts.
    """

    def compute(frame: ClinicFrame, mask: BoolArray) -> dict[str, Any]:
        return {
            "threshold": threshold,
            "time_to_relief": _km(frame.time_to_relief(threshold), mask, reached=True),
            "durability": _km(frame.durability(threshold), mask, reached=False),
        }

    return _analysis("survival", clinic_id, cohort, compute, threshold=threshold)


# --- Benchmarks -----------------------------------------------------------------------------------


def cohort_benchmarks(*, clinic_id: uuid.UUID, cohort: CohortFilter) -> dict[str, Any]:
    """Every comparable published figure beside this cohort's, with verdicts; the library's
    other entries are listed as context."""
    today = _today()
    library = list(Benchmark.objects.all())
    comparable = [b for b in library if b.is_comparable]
    not_compared = [
        {"key": b.key, "citation": b.citation, "endpoint": b.endpoint, "notes": b.notes}
        for b in library
        if not b.is_comparable or b.endpoint_kind not in COMPARABLE_KINDS
    ]
    # The library is part of the answer: an edit in the admin must not be hidden by the cache.
    stamp = [model_to_dict(b) for b in library]

    def compute(frame: ClinicFrame, mask: BoolArray) -> dict[str, Any]:
        return {
            "comparisons": [comparison(frame, mask, b, today) for b in comparable],
            "not_compared": not_compared,
        }

    return _analysis(
        "benchmarks", clinic_id, cohort, compute, today=today.isoformat(), library=stamp
    )
