"""A real-world figure beside a published one, with a test of the difference and a verdict.

Verdict rules (docs/outcomes.md, "Benchmark comparison"):
1. Fewer than OUTCOMES_MIN_PATIENTS patients behind the real-world figure (followed at the
   horizon, or still at risk there for Kaplan-Meier) -> "too few patients to say".
2. Where a test is possible, p < 0.05 -> "higher" or "lower" (the sign of the difference);
   otherwise "consistent".
3. Where no test is possible (no raw counts and no published interval), "consistent" if the
   published figure lies inside the real-world 95 % interval, else "higher" or "lower".
Tests: raw counts known -> Fisher's exact test if any expected cell count is below 5, else the
pooled two-proportion z-test; otherwise a z-test of the difference from the two standard errors
(real-world: binomial, or Greenwood for Kaplan-Meier; published: from its 95 % interval, or
binomial from its n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from django.conf import settings

from outcomes.analytics.frame import (
    NRS_PERCENT,
    NRS_POINTS,
    ODI_POINTS,
    BoolArray,
    ClinicFrame,
)
from outcomes.analytics.horizons import horizon_day, window_days
from outcomes.analytics.stats import (
    TestResult,
    estimates_z_test,
    kaplan_meier,
    proportions_test,
    se_from_interval,
    wilson_interval,
)
from outcomes.benchmarks.models import Benchmark, EndpointKind

CONSISTENT = "consistent"
HIGHER = "higher"
LOWER = "lower"
TOO_FEW = "too few patients to say"
SIGNIFICANCE = 0.05

_PROPORTION_MEASURES: dict[str, str] = {
    EndpointKind.NRS_RESPONDERS.value: NRS_PERCENT,
    EndpointKind.NRS_POINTS.value: NRS_POINTS,
    EndpointKind.ODI_POINTS.value: ODI_POINTS,
}


@dataclass(frozen=True)
class RealWorld:
    estimate: float  # fraction
    ci_low: float
    ci_high: float
    n: int  # patients behind the figure (followed at the horizon / at risk there)
    se: float
    interval_method: str
    responders: int | None = None
    courses: int | None = None  # Kaplan-Meier: courses in the analysis


@dataclass(frozen=True)
class Target:
    """What a benchmark asks to be compared: its threshold, horizon and published figure."""

    threshold: float
    horizon_months: float
    figure: float  # percent


def target(benchmark: Benchmark) -> Target:
    if benchmark.threshold is None or benchmark.horizon_months is None or benchmark.figure is None:
        raise ValueError(f"{benchmark.key} has no figure a cohort can be compared with")
    return Target(benchmark.threshold, benchmark.horizon_months, benchmark.figure)


def real_world_figure(
    frame: ClinicFrame, mask: BoolArray, benchmark: Benchmark, today: date
) -> RealWorld:
    wanted = target(benchmark)
    kind = benchmark.endpoint_kind
    if kind in _PROPORTION_MEASURES:
        values = frame.horizon(_PROPORTION_MEASURES[kind], wanted.horizon_months, today)
        chosen = values.value[mask]
        chosen = chosen[~np.isnan(chosen)]
        n = int(chosen.size)
        responders = int(np.count_nonzero(chosen >= wanted.threshold))
        low, high = wilson_interval(responders, n)
        p = responders / n if n else math.nan
        se = math.sqrt(p * (1 - p) / n) if n else math.nan
        return RealWorld(p, low, high, n, se, "wilson", responders=responders)
    if kind == EndpointKind.KM_DURABILITY:
        times = frame.durability(wanted.threshold)
    elif kind == EndpointKind.KM_TIME_TO_RELIEF:
        times = frame.time_to_relief(wanted.threshold)
    else:
        raise ValueError(f"{benchmark.key} has no comparable endpoint")
    included = mask & times.valid
    km = kaplan_meier(times.time[included], times.event[included])
    day = horizon_day(wanted.horizon_months)
    survival, low, high, at_risk = km.at(day)
    se = km.standard_error(day)
    if kind == EndpointKind.KM_TIME_TO_RELIEF:
        survival, low, high = 1 - survival, 1 - high, 1 - low
    return RealWorld(survival, low, high, at_risk, se, "greenwood_log_log", courses=km.n)


def published_interval(benchmark: Benchmark) -> tuple[float | None, float | None, str | None]:
    """The published 95 % interval (fractions), else Wilson's from the raw counts, else none."""
    if benchmark.ci_low is not None and benchmark.ci_high is not None:
        return benchmark.ci_low / 100, benchmark.ci_high / 100, "published"
    if benchmark.responders is not None and benchmark.n:
        low, high = wilson_interval(benchmark.responders, benchmark.n)
        return low, high, "wilson"
    return None, None, None


def _test(benchmark: Benchmark, real: RealWorld) -> TestResult | None:
    p0 = target(benchmark).figure / 100
    if real.n == 0 or math.isnan(real.estimate):
        return None
    if real.responders is not None and benchmark.responders is not None and benchmark.n:
        return proportions_test(real.responders, real.n, benchmark.responders, benchmark.n)
    low, high, _ = published_interval(benchmark)
    if low is not None and high is not None:
        se0 = se_from_interval(low, high)
    elif benchmark.n:
        se0 = math.sqrt(p0 * (1 - p0) / benchmark.n)
    else:
        return None
    return estimates_z_test(real.estimate, real.se, p0, se0)


def verdict(benchmark: Benchmark, real: RealWorld, test: TestResult | None) -> tuple[str, str]:
    """The verdict and its reason in plain words."""
    p0 = target(benchmark).figure / 100
    minimum = settings.OUTCOMES_MIN_PATIENTS
    if real.n < minimum:
        return TOO_FEW, (
            f"Only {real.n} patient{'s' if real.n != 1 else ''} behind the figure here; "
            f"at least {minimum} are needed to compare."
        )
    side = HIGHER if real.estimate > p0 else LOWER
    if test is not None:
        if test.p_value < SIGNIFICANCE:
            return side, (
                f"{_percent(real.estimate)} here against {_percent(p0)} published: "
                f"{side}, and unlikely to be chance (p = {test.p_value:.3g})."
            )
        return CONSISTENT, (
            f"{_percent(real.estimate)} here against {_percent(p0)} published: the difference "
            f"could be chance (p = {test.p_value:.3g})."
        )
    if real.ci_low <= p0 <= real.ci_high:
        return CONSISTENT, (
            f"The published {_percent(p0)} lies inside this cohort's 95 % interval "
            f"({_percent(real.ci_low)} to {_percent(real.ci_high)}); no test is possible without "
            "the study's counts or interval."
        )
    return side, (
        f"The published {_percent(p0)} lies outside this cohort's 95 % interval "
        f"({_percent(real.ci_low)} to {_percent(real.ci_high)}); no test is possible without "
        "the study's counts or interval."
    )


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def _pct(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value * 100, 6)


def comparison(
    frame: ClinicFrame, mask: BoolArray, benchmark: Benchmark, today: date
) -> dict[str, Any]:
    real = real_world_figure(frame, mask, benchmark, today)
    test = _test(benchmark, real)
    decided, reason = verdict(benchmark, real, test)
    low, high, interval_source = published_interval(benchmark)
    wanted = target(benchmark)
    return {
        "benchmark": {
            "key": benchmark.key,
            "study": benchmark.study,
            "citation": benchmark.citation,
            "design": benchmark.design,
            "intervention": benchmark.intervention,
            "endpoint": benchmark.endpoint,
            "endpoint_kind": benchmark.endpoint_kind,
            "threshold": wanted.threshold,
            "horizon_months": wanted.horizon_months,
            "figure": wanted.figure,
            "ci_low": _pct(low),
            "ci_high": _pct(high),
            "interval_source": interval_source,
            "n": benchmark.n,
            "responders": benchmark.responders,
            "notes": benchmark.notes,
        },
        "real_world": {
            "estimate": _pct(real.estimate),
            "ci_low": _pct(real.ci_low),
            "ci_high": _pct(real.ci_high),
            "interval_method": real.interval_method,
            "n": real.n,
            "responders": real.responders,
            "courses_in_analysis": real.courses,
            "horizon_day": horizon_day(wanted.horizon_months),
            "window_days": (
                window_days(wanted.horizon_months)
                if benchmark.endpoint_kind in _PROPORTION_MEASURES
                else None
            ),
        },
        "difference": _pct(real.estimate - wanted.figure / 100),
        "test": {"name": test.name, "p_value": test.p_value} if test else None,
        "verdict": decided,
        "reason": reason,
    }
