"""The outcomes analysis written the usual analyst's way, with pandas and lifelines.

It is the reference the service's numpy implementation is checked against (tests) and timed
against (tests/benchmarks/bench_outcomes.py). It implements the definitions of docs/outcomes.md
independently: groupby for weekly means and quantiles, idxmin for the observation nearest a
horizon, lifelines' KaplanMeierFitter for the survival curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

NRS, ODI = 1, 2
HORIZONS = (3, 6, 12, 15, 24)


def horizon_day(months: float) -> int:
    return round(months * 365.25 / 12)


def window(months: float) -> int:
    return 30 if months <= 4 else 45 if months <= 9 else 60


COURSE_SQL = (
    "SELECT id, baseline_nrs, baseline_odi, last_injection_day, site, protocol, sex, age_band "
    "FROM readmodel_course WHERE clinic_id = %(clinic)s"
)
OBSERVATION_SQL = (
    "SELECT course_ref, day, kind, value FROM readmodel_observation "
    "WHERE clinic_id = %(clinic)s AND NOT deleted AND course_ref IS NOT NULL "
    "ORDER BY course_ref, occurred_at, id"
)


def load(connection: Any, clinic_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    courses = pd.read_sql(COURSE_SQL, connection, params={"clinic": clinic_id}).set_index("id")
    observations = pd.read_sql(OBSERVATION_SQL, connection, params={"clinic": clinic_id})
    return courses, observations


def nrs_relief(courses: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    nrs = observations[observations["kind"] == NRS].join(
        courses[["baseline_nrs", "last_injection_day"]], on="course_ref"
    )
    nrs = nrs[nrs["baseline_nrs"] > 0].copy()
    nrs["relief"] = (nrs["baseline_nrs"] - nrs["value"]) / nrs["baseline_nrs"] * 100
    nrs["points"] = nrs["baseline_nrs"] - nrs["value"]
    nrs["order"] = np.arange(len(nrs))
    return nrs


def odi_change(courses: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    odi = observations[observations["kind"] == ODI].join(courses[["baseline_odi"]], on="course_ref")
    odi = odi[odi["baseline_odi"].notna()].copy()
    odi["points"] = odi["baseline_odi"] - odi["value"]
    odi["order"] = np.arange(len(odi))
    return odi


def curve(relief: pd.DataFrame, column: str = "relief") -> pd.DataFrame:
    relief = relief[relief["day"] >= 0].assign(week=lambda f: f["day"] // 7)
    weekly = relief.groupby(["course_ref", "week"])[column].mean().reset_index()
    grouped = weekly.groupby("week")[column]
    return pd.DataFrame(
        {
            "n": grouped.size(),
            "median": grouped.median(),
            "q1": grouped.quantile(0.25),
            "q3": grouped.quantile(0.75),
            "mean": grouped.mean(),
        }
    )


def responders(relief: pd.DataFrame, column: str, threshold: float) -> dict[int, tuple[int, int]]:
    """Per horizon: (responders, n) at the observation nearest the horizon, earlier on ties."""
    out = {}
    for months in HORIZONS:
        target = horizon_day(months)
        near = relief[(relief["day"] - target).abs() <= window(months)].copy()
        near["distance"] = (near["day"] - target).abs()
        chosen = near.sort_values(["course_ref", "distance", "order"]).groupby("course_ref").head(1)
        out[months] = (int((chosen[column] >= threshold).sum()), len(chosen))
    return out


def time_to_relief(relief: pd.DataFrame, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    followed = relief[relief["day"] >= 0]
    last = followed.groupby("course_ref")["day"].last()
    hit = followed[followed["relief"] >= threshold].groupby("course_ref")["day"].first()
    durations = last.copy()
    durations.loc[hit.index] = hit
    events = last.index.isin(hit.index)
    return durations.to_numpy(dtype=float), events


def durability(relief: pd.DataFrame, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    assessed = relief[relief["day"] >= relief["last_injection_day"] + 14]
    last = assessed.groupby("course_ref")["day"].last()
    lost = assessed[assessed["relief"] < threshold].groupby("course_ref")["day"].first()
    durations = last.copy()
    durations.loc[lost.index] = lost
    events = last.index.isin(lost.index)
    return durations.to_numpy(dtype=float), events


def kaplan_meier(durations: np.ndarray, events: np.ndarray) -> KaplanMeierFitter:
    fitter = KaplanMeierFitter()
    fitter.fit(durations, event_observed=events)
    return fitter


def full_analysis(courses: pd.DataFrame, observations: pd.DataFrame) -> dict[str, Any]:
    """Everything the service's standard analyses compute, for one cohort."""
    relief = nrs_relief(courses, observations)
    odi = odi_change(courses, observations)
    result: dict[str, Any] = {"curve": curve(relief), "odi_curve": curve(odi, "points")}
    for threshold in (30.0, 50.0):
        result[f"responders_{threshold:g}"] = responders(relief, "relief", threshold)
    result["responders_points"] = responders(relief, "points", 2.0)
    result["responders_odi"] = responders(odi, "points", 10.0)
    result["time_to_relief"] = kaplan_meier(*time_to_relief(relief, 50.0))
    result["durability"] = kaplan_meier(*durability(relief, 50.0))
    return result
