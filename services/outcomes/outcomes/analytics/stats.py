"""The statistics, vectorised over numpy arrays: no Python loop runs per observation.

Conventions (docs/outcomes.md explains them for clinicians):
- proportions are fractions 0..1 here; the API shows percent;
- quantiles are numpy's default ("linear", the same as PostgreSQL's percentile_cont);
- means carry a t-based 95 % interval; proportions a Wilson score interval (as statsmodels'
  ``proportion_confint(method="wilson")``, clipped to 0..1);
- Kaplan-Meier intervals are Greenwood's variance on the log(-log) scale ("exponential
  Greenwood"), the default of lifelines' KaplanMeierFitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CONFIDENCE = 0.95
Z = float(special.ndtri(1 - (1 - CONFIDENCE) / 2))


def wilson_interval(successes: float, n: float) -> tuple[float, float]:
    """The 95 % Wilson score interval of successes/n (nan, nan when n is 0)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    z2 = Z * Z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = Z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    return float(np.clip(center - half, 0.0, 1.0)), float(np.clip(center + half, 0.0, 1.0))


@dataclass(frozen=True)
class GroupStats:
    """Per-group summaries of values grouped by a sorted key (one row per group)."""

    keys: IntArray
    n: IntArray
    median: FloatArray
    q1: FloatArray
    q3: FloatArray
    mean: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray


def group_stats(keys: IntArray, values: FloatArray) -> GroupStats:
    """Median, quartiles and mean (t-based 95 % interval) of ``values`` per key.

    ``keys`` must be grouped (equal keys together, as a stable sort by key leaves them); the
    values within a group may be in any order.
    """
    if keys.size == 0:
        return runs_stats(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), values)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, keys.size])
    return runs_stats(keys[starts], counts, values)


def runs_stats(keys: IntArray, counts: IntArray, values: FloatArray) -> GroupStats:
    """``group_stats`` of values that come as consecutive runs: ``counts[i]`` values of
    ``keys[i]`` after those of the keys before it. Runs of no value are left out.

    Quantiles come from a sort of each run, one call per run.
    """
    present = counts > 0
    if not present.all():
        keys, counts = keys[present], counts[present]
    if keys.size == 0:
        empty_f = np.empty(0, dtype=np.float64)
        return GroupStats(
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), *([empty_f] * 6)
        )
    starts = np.cumsum(counts) - counts
    q1, median, q3 = _group_quartiles(values, starts, counts)
    sums = np.add.reduceat(values, starts)
    means = sums / counts
    deviations = values - np.repeat(means, counts)
    squares = np.add.reduceat(deviations * deviations, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(squares / (counts - 1))
        t = special.stdtrit(counts - 1, 0.5 + CONFIDENCE / 2)
        half = t * sd / np.sqrt(counts)
    half = np.where(counts > 1, half, np.nan)
    return GroupStats(
        keys=np.asarray(keys, dtype=np.int64),
        n=np.asarray(counts, dtype=np.int64),
        median=median,
        q1=q1,
        q3=q3,
        mean=means,
        ci_low=means - half,
        ci_high=means + half,
    )


QUARTILES = (0.25, 0.5, 0.75)


def _group_quartiles(
    values: FloatArray, starts: IntArray, counts: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    # numpy's "linear" method: position q * (n - 1) between the two neighbouring order statistics.
    positions = np.outer(counts - 1, QUARTILES)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, (counts - 1)[:, None])
    fraction = positions - below
    # Each group sorted (a vectorised sort of a few thousand values beats a partial sort for
    # six order statistics), then the order statistics read off at once.
    ordered = np.empty_like(values)
    for start, end in zip(starts.tolist(), (starts + counts).tolist(), strict=True):
        ordered[start:end] = np.sort(values[start:end])
    low = ordered[starts[:, None] + below]
    high = ordered[starts[:, None] + above]
    # The same two-sided interpolation numpy uses, so results agree to the last bit or two.
    result = np.where(
        fraction < 0.5, low + (high - low) * fraction, high - (high - low) * (1 - fraction)
    )
    return result[:, 0], result[:, 1], result[:, 2]


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier estimate at each distinct time (event or censoring) of the sample."""

    times: FloatArray
    at_risk: IntArray
    events: IntArray
    censored: IntArray
    survival: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    # Greenwood's sum of d / (n (n - d)) up to each time (the variance of log S).
    greenwood: FloatArray
    n: int

    def at(self, time: float) -> tuple[float, float, float, int]:
        """S(t) with its interval, and the number still at risk just after ``time``.

        Before the first time S is 1 (interval 1..1); the estimate is carried forward after
        the last time.
        """
        index = int(np.searchsorted(self.times, time, side="right")) - 1
        remaining = int(
            self.n - (self.events[: index + 1].sum() + self.censored[: index + 1].sum())
        )
        if index < 0:
            return 1.0, 1.0, 1.0, self.n
        return (
            float(self.survival[index]),
            float(self.ci_low[index]),
            float(self.ci_high[index]),
            remaining,
        )

    def standard_error(self, time: float) -> float:
        """Plain Greenwood standard error of S(t)."""
        index = int(np.searchsorted(self.times, time, side="right")) - 1
        if index < 0:
            return 0.0
        return float(self.survival[index] * math.sqrt(self.greenwood[index]))

    def median(self) -> float | None:
        """The first time S drops to 0.5 or below (None if it never does)."""
        below = np.flatnonzero(self.survival <= 0.5)
        return float(self.times[below[0]]) if below.size else None


def kaplan_meier(durations: NDArray[Any], observed: NDArray[np.bool_]) -> KaplanMeier:
    """Kaplan-Meier with exponential-Greenwood 95 % intervals, as lifelines computes them.

    Ties: events at a time are counted before the censorings at that time (censored subjects
    are at risk at their censoring time).
    """
    durations = np.asarray(durations)
    observed = np.asarray(observed, dtype=bool)
    n = int(durations.size)
    if n == 0:
        empty = np.empty(0)
        return KaplanMeier(
            empty, empty.astype(np.int64), empty.astype(np.int64), empty.astype(np.int64),
            empty, empty, empty, empty, 0,
        )  # fmt: skip
    if (
        np.issubdtype(durations.dtype, np.integer)
        and 0 <= durations.min() <= durations.max() < 2**24
    ):
        # Whole days: counted per day in one pass, no sort.
        removed = np.bincount(durations)
        days = np.flatnonzero(removed)
        removed = removed[days]
        events = np.bincount(durations[observed], minlength=days[-1] + 1)[days]
        times = days.astype(np.float64)
    else:
        times, inverse = np.unique(durations.astype(np.float64), return_inverse=True)
        removed = np.bincount(inverse, minlength=times.size)
        events = np.bincount(inverse, weights=observed.astype(np.float64), minlength=times.size)
    events = events.astype(np.int64)
    censored = removed - events
    at_risk = n - np.r_[0, np.cumsum(removed)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_terms = np.log(at_risk - events) - np.log(at_risk)
        survival = np.exp(np.cumsum(log_terms))
        terms = events / (at_risk * (at_risk - events).astype(np.float64))
    terms = np.where(np.isinf(terms), 0.0, terms)
    terms = np.nan_to_num(terms, nan=0.0)
    greenwood = np.cumsum(terms)
    low, high = _log_log_bounds(survival, greenwood)
    return KaplanMeier(
        times=times,
        at_risk=at_risk.astype(np.int64),
        events=events,
        censored=censored.astype(np.int64),
        survival=survival,
        ci_low=low,
        ci_high=high,
        greenwood=greenwood,
        n=n,
    )


def _log_log_bounds(survival: FloatArray, greenwood: FloatArray) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(survival)
        spread = Z * np.sqrt(greenwood) / v
        low = np.exp(-np.exp(np.log(-v) - spread))
        high = np.exp(-np.exp(np.log(-v) + spread))
    # Where S is 1 the interval is undefined; lifelines reports 1..1 there.
    return np.nan_to_num(low, nan=1.0), np.nan_to_num(high, nan=1.0)


@dataclass(frozen=True)
class TestResult:
    name: str
    p_value: float


def proportions_test(x1: int, n1: int, x0: int, n0: int) -> TestResult:
    """Two proportions from raw counts: Fisher's exact test when any expected cell count is
    below 5, else the pooled two-proportion z-test (both two-sided)."""
    pooled = (x1 + x0) / (n1 + n0)
    expected = [n1 * pooled, n1 * (1 - pooled), n0 * pooled, n0 * (1 - pooled)]
    if min(expected) < 5:
        # scipy.stats costs seconds to import: only the rare small-count comparison pays it.
        from scipy.stats import fisher_exact

        _, p = fisher_exact([[x1, n1 - x1], [x0, n0 - x0]], alternative="two-sided")
        return TestResult("fisher_exact", float(p))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = (x1 / n1 - x0 / n0) / se
    return TestResult("two_proportion_z", _two_sided_p(z))


def estimates_z_test(
    estimate: float, se: float, reference: float, reference_se: float
) -> TestResult:
    """Difference of two independent estimates, each with its standard error (two-sided)."""
    spread = math.sqrt(se * se + reference_se * reference_se)
    if spread == 0:
        return TestResult("z_from_standard_errors", 1.0 if estimate == reference else 0.0)
    z = (estimate - reference) / spread
    return TestResult("z_from_standard_errors", _two_sided_p(z))


def _two_sided_p(z: float) -> float:
    return float(2 * special.ndtr(-abs(z)))


def se_from_interval(low: float, high: float) -> float:
    """The standard error a symmetric normal 95 % interval implies."""
    return (high - low) / (2 * Z)
