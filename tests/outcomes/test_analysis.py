"""Cohort analyses on the read model, checked against the pandas + lifelines reference pipeline
and against hand-made cohorts at the edges of the rules."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import numpy as np
import pytest
import reference_pipeline as reference
from django.core.cache import cache
from django.db import connection
from helpers import BulkCourse, bulk_cohort
from statsmodels.stats.proportion import proportion_confint

from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.frame import frames_forget
from outcomes.analytics.selectors import cohort_curve, cohort_responders, cohort_survival
from outcomes.readmodel.models import Course, ObservationKind

pytestmark = pytest.mark.django_db

TOLERANCE = 1e-9
EVERYONE = CohortFilter()


def _random_cohort(rng: np.random.Generator, n: int) -> list[BulkCourse]:
    courses = []
    for _ in range(n):
        baseline = float(rng.integers(0, 11))  # includes 0: left out of relief
        days = np.sort(rng.choice(np.arange(0, 760), size=int(rng.integers(1, 40)), replace=False))
        # Some days twice: several scores in one week, and same-day ties.
        days = np.sort(np.r_[days, rng.choice(days, size=min(3, days.size))])
        scores = rng.integers(0, 11, size=days.size).astype(float)
        odi = [(int(d), float(rng.integers(0, 101))) for d in days[::3]]
        courses.append(
            BulkCourse(
                baseline=None if rng.random() < 0.05 else baseline,
                observations=list(zip(days.tolist(), scores.tolist(), strict=True)),
                last_injection_day=int(rng.choice([0, 14, 28, 84])),
                odi_baseline=float(rng.integers(20, 80)),
                odi=odi,
                attributes={"site": str(rng.choice(["sij_intra_articular", "iliolumbar"]))},
            )
        )
    return courses


@pytest.fixture
def random_clinic() -> uuid.UUID:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, _random_cohort(np.random.default_rng(11), 160))
    return clinic_id


def _reference(clinic_id: uuid.UUID, site: str | None = None) -> dict:
    courses, observations = reference.load(connection.connection, str(clinic_id))
    if site:
        courses = courses[courses["site"] == site]
        observations = observations[observations["course_ref"].isin(courses.index)]
    return reference.full_analysis(courses, observations)


@pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy")
@pytest.mark.parametrize("site", [None, "iliolumbar"])
def test_recovery_curve_equals_the_pandas_pipeline(
    random_clinic: uuid.UUID, site: str | None
) -> None:
    cohort = CohortFilter(site=(site,)) if site else EVERYONE
    result = cohort_curve(clinic_id=random_clinic, cohort=cohort)
    reference_result = _reference(random_clinic, site)
    for measure, key in (("nrs_percent_change", "curve"), ("odi_points_change", "odi_curve")):
        points, expected = result[measure], reference_result[key]
        assert points
        assert [p["week"] for p in points] == list(expected.index)
        for point in points:
            row = expected.loc[point["week"]]
            assert point["n"] == row["n"]
            for name in ("median", "q1", "q3", "mean"):
                assert point[name] == pytest.approx(row[name], abs=TOLERANCE), (measure, name)


@pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy")
def test_responder_rates_equal_the_pandas_pipeline_with_wilson_intervals(
    random_clinic: uuid.UUID,
) -> None:
    result = cohort_responders(clinic_id=random_clinic, cohort=EVERYONE)
    expected = _reference(random_clinic)
    for horizon in result["horizons"]:
        months = horizon["months"]
        for endpoint in horizon["endpoints"]:
            if endpoint["measure"] == "nrs_percent":
                key = f"responders_{endpoint['threshold']:g}"
            elif endpoint["measure"] == "nrs_points":
                key = "responders_points"
            else:
                key = "responders_odi"
            responders, n = expected[key][months]
            assert (endpoint["responders"], endpoint["n"]) == (responders, n), (months, key)
            low, high = proportion_confint(responders, n, method="wilson")
            assert endpoint["ci_low"] == pytest.approx(low * 100, abs=1e-7)
            assert endpoint["ci_high"] == pytest.approx(high * 100, abs=1e-7)


@pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy")
def test_kaplan_meier_curves_equal_lifelines_on_the_same_definitions(
    random_clinic: uuid.UUID,
) -> None:
    result = cohort_survival(clinic_id=random_clinic, cohort=EVERYONE)
    expected = _reference(random_clinic)
    for name, reached in (("time_to_relief", True), ("durability", False)):
        fitter = expected[name]
        curve = result[name]
        assert curve["n"] == fitter.event_table["removed"].sum()
        survival = fitter.survival_function_.iloc[:, 0]
        bounds = fitter.confidence_interval_
        for point in curve["timeline"]:
            s = survival.loc[point["day"]]
            low, high = bounds.iloc[:, 0].loc[point["day"]], bounds.iloc[:, 1].loc[point["day"]]
            if reached:
                s, low, high = 1 - s, 1 - high, 1 - low
            assert point["percent"] == pytest.approx(s * 100, abs=1e-7)
            assert point["ci_low"] == pytest.approx(low * 100, abs=1e-7)
            assert point["ci_high"] == pytest.approx(high * 100, abs=1e-7)


def _responders_at_3_months(clinic_id: uuid.UUID) -> dict:
    result = cohort_responders(clinic_id=clinic_id, cohort=EVERYONE)
    horizon = next(h for h in result["horizons"] if h["months"] == 3)
    return next(
        e for e in horizon["endpoints"] if e["measure"] == "nrs_percent" and e["threshold"] == 50
    )


@pytest.mark.parametrize(
    ("days", "counted"),
    [
        ([91 + 30], True),  # inside the window by a day's margin: on its last day
        ([91 + 31], False),  # outside by a day
        ([91 - 30], True),
        ([91 - 31], False),
    ],
)
def test_the_three_month_window_is_plus_or_minus_thirty_days(
    days: list[int], counted: bool
) -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, [BulkCourse(baseline=8, observations=[(d, 2.0) for d in days])])
    endpoint = _responders_at_3_months(clinic_id)
    assert endpoint["n"] == (1 if counted else 0)


def test_the_observation_nearest_the_horizon_counts() -> None:
    clinic_id = uuid.uuid4()
    # Day 70 is a responder, day 95 is not and is nearer to day 91.
    bulk_cohort(clinic_id, [BulkCourse(baseline=8, observations=[(70, 2.0), (95, 7.0)])])
    endpoint = _responders_at_3_months(clinic_id)
    assert (endpoint["n"], endpoint["responders"]) == (1, 0)


def test_of_two_equally_near_observations_the_earlier_counts() -> None:
    clinic_id = uuid.uuid4()
    early_responder = BulkCourse(baseline=8, observations=[(81, 2.0), (101, 7.0)])
    early_non_responder = BulkCourse(baseline=8, observations=[(81, 7.0), (101, 2.0)])
    same_day = BulkCourse(baseline=8, observations=[(91, 2.0), (91, 7.0)])
    bulk_cohort(clinic_id, [early_responder, early_non_responder, same_day])
    endpoint = _responders_at_3_months(clinic_id)
    assert (endpoint["n"], endpoint["responders"]) == (3, 2)


def test_courses_with_a_zero_or_missing_baseline_are_left_out_of_relief() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(
        clinic_id,
        [
            BulkCourse(baseline=0, observations=[(91, 0.0)]),
            BulkCourse(baseline=None, observations=[(91, 2.0)]),
            BulkCourse(baseline=6, observations=[(91, 3.0)]),
        ],
    )
    result = cohort_curve(clinic_id=clinic_id, cohort=EVERYONE)
    assert result["cohort"] == {"filters": {}, "courses": 3, "patients": 3, "with_baseline": 1}
    assert [(p["week"], p["n"], p["median"]) for p in result["nrs_percent_change"]] == [
        (13, 1, 50.0)
    ]


def test_every_curve_point_carries_its_n_however_small() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(
        clinic_id,
        [
            BulkCourse(baseline=8, observations=[(0, 8.0), (7, 6.0)]),
            BulkCourse(baseline=4, observations=[(1, 4.0)]),
        ],
    )
    points = cohort_curve(clinic_id=clinic_id, cohort=EVERYONE)["nrs_percent_change"]
    assert [(p["week"], p["n"]) for p in points] == [(0, 2), (1, 1)]
    assert points[1]["ci_low"] is None  # one patient: a median, no interval


def test_a_week_with_several_scores_counts_the_course_once_at_its_mean() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, [BulkCourse(baseline=10, observations=[(7, 8.0), (9, 4.0), (13, 6.0)])])
    points = cohort_curve(clinic_id=clinic_id, cohort=EVERYONE)["nrs_percent_change"]
    assert [(p["week"], p["n"], p["median"]) for p in points] == [(1, 1, 40.0)]


def test_odi_curve_shows_points_of_improvement() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(
        clinic_id,
        [BulkCourse(baseline=6, observations=[], odi_baseline=40, odi=[(30, 25.0)])],
    )
    points = cohort_curve(clinic_id=clinic_id, cohort=EVERYONE)["odi_points_change"]
    assert [(p["week"], p["median"]) for p in points] == [(4, 15.0)]


def test_filters_split_the_cohort() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(
        clinic_id,
        [
            BulkCourse(
                baseline=8, observations=[(7, 4.0)], attributes={"diagnosis": "disc_herniation"}
            ),
            BulkCourse(
                baseline=8, observations=[(7, 2.0)], attributes={"diagnosis": "sij_dysfunction"}
            ),
            BulkCourse(
                baseline=8,
                observations=[(7, 6.0)],
                first=date(2023, 1, 2),
                attributes={"diagnosis": "sij_dysfunction"},
            ),
        ],
    )
    cohort = CohortFilter(diagnosis=("sij_dysfunction",), first_injection_from=date(2024, 1, 1))
    result = cohort_curve(clinic_id=clinic_id, cohort=cohort)
    assert result["cohort"]["courses"] == 1
    assert result["nrs_percent_change"][0]["median"] == 75.0


def test_durability_counts_a_course_without_relief_at_assessment_as_a_loss_then() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(
        clinic_id,
        [
            # Assessment starts on day 28 + 14 = 42. Relief from day 42, lost on day 102.
            BulkCourse(baseline=8, observations=[(14, 7.0), (42, 2.0), (72, 3.0), (102, 6.0)]),
            # No relief at the first assessment: lost on day 45.
            BulkCourse(baseline=8, observations=[(45, 6.0), (75, 2.0)]),
            # Relief kept: censored at the last score, day 400.
            BulkCourse(baseline=8, observations=[(50, 2.0), (400, 3.0)]),
            # Not yet assessed: not in the analysis.
            BulkCourse(baseline=8, observations=[(20, 2.0)]),
        ],
    )
    durability = cohort_survival(clinic_id=clinic_id, cohort=EVERYONE)["durability"]
    assert durability["n"] == 3
    assert [(p["day"], p["events"], p["censored"]) for p in durability["timeline"]] == [
        (45, 1, 0),
        (102, 1, 0),
        (400, 0, 1),
    ]
    relief = cohort_survival(clinic_id=clinic_id, cohort=EVERYONE)["time_to_relief"]
    # First >= 50 % relief: day 42, day 75, day 50, day 20.
    assert sorted(p["day"] for p in relief["timeline"] if p["events"]) == [20, 42, 50, 75]
    assert relief["median_days"] == 42


def _same_courses(copied: Any, fetched: Any) -> None:
    """Two loads of a clinic's courses hold the same rows, attributes and scores."""
    from outcomes.analytics import frame as frames

    assert np.array_equal(copied.pk, fetched.pk)
    assert np.array_equal(copied.first_date, fetched.first_date)
    for name in ("baseline_nrs", "baseline_odi", "dextrose_percent"):
        assert np.array_equal(getattr(copied, name), getattr(fetched, name), equal_nan=True)
    assert np.array_equal(copied.last_injection_day, fetched.last_injection_day)
    same_patient = copied.patient[:, None] == copied.patient[None, :]
    assert np.array_equal(same_patient, fetched.patient[:, None] == fetched.patient[None, :])
    for name, (codes, lookup) in copied.attributes.items():
        other_codes, other_lookup = fetched.attributes[name]
        assert set(lookup) == set(other_lookup)
        for value in lookup:
            assert np.array_equal(codes == lookup[value], other_codes == other_lookup[value])
    assert np.array_equal(copied.scores, fetched.scores)
    everyone = np.ones(copied.pk.size, dtype=bool)
    kinds = {kind: everyone for kind in ObservationKind}
    mine, theirs = frames._instruments(copied, kinds), frames._instruments(fetched, kinds)
    for kind in ObservationKind:
        for name in ("course", "day", "score", "starts", "ends"):
            assert np.array_equal(getattr(mine[kind], name), getattr(theirs[kind], name))


def test_the_postgresql_copy_and_the_plain_fetch_load_the_same_courses(
    random_clinic: uuid.UUID,
) -> None:
    from outcomes.analytics import frame as frames

    assert connection.vendor == "postgresql"
    copied = frames._courses_copy(random_clinic)
    assert copied is not None
    assert copied.pk.size == 160
    _same_courses(copied, frames._courses_fetch(random_clinic))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_committed_rows_load_alike_by_copy_and_by_fetch() -> None:
    """No transaction open (as a web request reads): the COPY sees the committed rows."""
    from outcomes.analytics import frame as frames

    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, _random_cohort(np.random.default_rng(5), 30))
    assert not connection.in_atomic_block
    copied = frames._courses_copy(clinic_id)
    assert copied is not None
    assert int(copied.scores.sum()) > 0
    _same_courses(copied, frames._courses_fetch(clinic_id))


def test_a_clinic_without_courses_loads_an_empty_frame() -> None:
    from outcomes.analytics import frame as frames

    frame = frames.frame_load(uuid.uuid4(), 1)
    assert frame.courses == 0
    assert frame.nrs.day.size == 0
    result = cohort_survival(clinic_id=uuid.uuid4(), cohort=EVERYONE)
    assert result["cohort"]["courses"] == 0
    assert result["durability"]["n"] == 0


def test_copy_rows_not_delivered_one_per_piece_fall_back_to_the_plain_fetch(
    random_clinic: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outcomes.analytics import frame as frames

    expected = cohort_curve(clinic_id=random_clinic, cohort=EVERYONE)
    real = frames._copy_rows

    def merged(sql: str, params: list[Any]) -> list[bytes]:
        rows = real(sql, params)
        return [rows[0] + rows[1], *rows[2:]]  # two rows in one piece

    monkeypatch.setattr(frames, "_copy_rows", merged)
    assert frames._courses_copy(random_clinic) is None
    cache.clear()
    frames.frames_forget()
    assert cohort_curve(clinic_id=random_clinic, cohort=EVERYONE) == expected


def test_two_attribute_combinations_under_one_key_fall_back_to_the_plain_fetch(
    random_clinic: uuid.UUID,
) -> None:
    from outcomes.analytics import frame as frames

    iliolumbar = CohortFilter(site=("iliolumbar",))
    expected = cohort_responders(clinic_id=random_clinic, cohort=iliolumbar)
    assert 0 < expected["cohort"]["courses"] < 160
    # As if the keys of two combinations had collided.
    key = Course.objects.filter(clinic_id=random_clinic).exclude(site="iliolumbar")
    Course.objects.filter(site="iliolumbar").update(cohort_key=key.values("cohort_key")[:1])
    frames._combinations.clear()
    assert frames._courses_copy(random_clinic) is None
    cache.clear()
    frames.frames_forget()
    assert cohort_responders(clinic_id=random_clinic, cohort=iliolumbar) == expected


def test_courses_written_before_keys_were_kept_still_split_into_cohorts(
    random_clinic: uuid.UUID,
) -> None:
    iliolumbar = CohortFilter(site=("iliolumbar",))
    expected = cohort_responders(clinic_id=random_clinic, cohort=iliolumbar)
    Course.objects.filter(clinic_id=random_clinic).update(cohort_key=0)  # the column's default
    cache.clear()
    frames_forget()
    assert cohort_responders(clinic_id=random_clinic, cohort=iliolumbar) == expected


def test_a_score_placed_before_day_0_is_left_out_of_every_figure() -> None:
    clinic_id = uuid.uuid4()
    # Events never place a score before its course began; rows written by hand might.
    bulk_cohort(clinic_id, [BulkCourse(baseline=8, observations=[(-1, 0.0), (7, 2.0)])])
    curve = cohort_curve(clinic_id=clinic_id, cohort=EVERYONE)["nrs_percent_change"]
    assert [(p["week"], p["n"]) for p in curve] == [(1, 1)]
    relief = cohort_survival(clinic_id=clinic_id, cohort=EVERYONE)["time_to_relief"]
    assert [(p["day"], p["events"]) for p in relief["timeline"]] == [(7, 1)]
