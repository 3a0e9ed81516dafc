"""The statistics against reference implementations: lifelines, statsmodels, numpy, scipy."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from outcomes.analytics.stats import (
    estimates_z_test,
    group_stats,
    kaplan_meier,
    proportions_test,
    wilson_interval,
)

TOLERANCE = 1e-9


def _lifelines(durations: np.ndarray, events: np.ndarray) -> KaplanMeierFitter:
    fitter = KaplanMeierFitter()
    fitter.fit(durations, event_observed=events)
    return fitter


@pytest.mark.parametrize("whole_days", [False, True], ids=["float times", "integer days"])
@pytest.mark.parametrize("seed", range(6))
def test_kaplan_meier_and_greenwood_intervals_equal_lifelines_with_ties_and_censoring(
    seed: int, whole_days: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    # Whole days over a short range: many ties between events, censorings and both.
    durations = rng.integers(0, 60, size=n).astype(float)
    events = rng.random(n) < rng.uniform(0.2, 0.9)
    ours = kaplan_meier(durations.astype(np.int64) if whole_days else durations, events)
    reference = _lifelines(durations, events)
    survival = reference.survival_function_.iloc[:, 0]
    bounds = reference.confidence_interval_
    for i, time in enumerate(ours.times):
        assert ours.survival[i] == pytest.approx(survival.loc[time], abs=TOLERANCE)
        assert ours.ci_low[i] == pytest.approx(bounds.iloc[:, 0].loc[time], abs=TOLERANCE)
        assert ours.ci_high[i] == pytest.approx(bounds.iloc[:, 1].loc[time], abs=TOLERANCE)
    table = reference.event_table
    assert list(ours.at_risk) == [int(table.loc[t, "at_risk"]) for t in ours.times]
    assert list(ours.events) == [int(table.loc[t, "observed"]) for t in ours.times]
    assert list(ours.censored) == [int(table.loc[t, "censored"]) for t in ours.times]
    median = reference.median_survival_time_
    assert ours.median() == (None if np.isinf(median) else pytest.approx(median))


def test_kaplan_meier_where_everyone_has_the_event_reaches_zero_like_lifelines() -> None:
    durations = np.array([3.0, 3.0, 5.0, 8.0])
    events = np.ones(4, dtype=bool)
    ours = kaplan_meier(durations, events)
    reference = _lifelines(durations, events)
    assert ours.survival[-1] == 0
    bounds = reference.confidence_interval_
    assert ours.ci_low[-1] == pytest.approx(bounds.iloc[-1, 0], abs=TOLERANCE)
    assert ours.ci_high[-1] == pytest.approx(bounds.iloc[-1, 1], abs=TOLERANCE)


def test_kaplan_meier_reads_the_estimate_at_a_horizon_between_times() -> None:
    km = kaplan_meier(np.array([10.0, 20.0, 30.0, 40.0]), np.array([True, False, True, False]))
    assert km.at(5) == (1.0, 1.0, 1.0, 4)
    survival, _, _, at_risk = km.at(25)
    assert survival == pytest.approx(0.75)
    assert at_risk == 2
    assert km.at(100)[3] == 0


@pytest.mark.parametrize(
    ("successes", "n"), [(0, 1), (0, 10), (3, 10), (10, 10), (57, 131), (1, 2000)]
)
def test_wilson_intervals_equal_statsmodels(successes: int, n: int) -> None:
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=TOLERANCE)


def test_group_medians_quartiles_and_t_intervals_equal_numpy_and_scipy() -> None:
    rng = np.random.default_rng(7)
    keys = np.sort(rng.integers(0, 30, size=3000))
    values = rng.normal(30, 25, size=keys.size).round(1)  # rounding makes ties within groups
    order = np.lexsort((values, keys))
    summary = group_stats(keys[order], values[order])
    for i, key in enumerate(summary.keys):
        group = values[keys == key]
        assert summary.n[i] == group.size
        q1, median, q3 = np.quantile(group, [0.25, 0.5, 0.75])
        assert summary.median[i] == pytest.approx(median, abs=TOLERANCE)
        assert summary.q1[i] == pytest.approx(q1, abs=TOLERANCE)
        assert summary.q3[i] == pytest.approx(q3, abs=TOLERANCE)
        assert summary.mean[i] == pytest.approx(group.mean(), abs=TOLERANCE)
        low, high = sps.t.interval(0.95, group.size - 1, loc=group.mean(), scale=sps.sem(group))
        assert summary.ci_low[i] == pytest.approx(low, abs=TOLERANCE)
        assert summary.ci_high[i] == pytest.approx(high, abs=TOLERANCE)


def test_a_group_of_one_has_a_median_but_no_interval() -> None:
    summary = group_stats(np.array([4]), np.array([12.5]))
    assert (summary.n[0], summary.median[0], summary.q1[0], summary.q3[0]) == (1, 12.5, 12.5, 12.5)
    assert np.isnan(summary.ci_low[0])
    assert np.isnan(summary.ci_high[0])


def test_small_counts_are_tested_with_fishers_exact_test() -> None:
    result = proportions_test(3, 12, 19, 25)
    _, expected = sps.fisher_exact([[3, 9], [19, 6]])
    assert result.name == "fisher_exact"
    assert result.p_value == pytest.approx(expected, abs=TOLERANCE)


def test_large_counts_are_tested_with_the_two_proportion_z_test() -> None:
    from statsmodels.stats.proportion import proportions_ztest

    result = proportions_test(120, 300, 40, 80)
    _, expected = proportions_ztest([120, 40], [300, 80])
    assert result.name == "two_proportion_z"
    assert result.p_value == pytest.approx(expected, abs=TOLERANCE)


def test_the_z_test_of_two_estimates_uses_both_standard_errors() -> None:
    result = estimates_z_test(0.20, 0.03, 0.587, 0.106)
    z = (0.20 - 0.587) / np.hypot(0.03, 0.106)
    assert result.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), abs=TOLERANCE)
