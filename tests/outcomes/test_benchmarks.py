from __future__ import annotations

import uuid

import numpy as np
import pytest
from helpers import BulkCourse, bulk_cohort, durability_cohort

from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.selectors import cohort_benchmarks
from outcomes.benchmarks.models import Benchmark

pytestmark = pytest.mark.django_db

EVERYONE = CohortFilter()


def _comparison(clinic_id: uuid.UUID, key: str) -> dict:
    result = cohort_benchmarks(clinic_id=clinic_id, cohort=EVERYONE)
    return next(c for c in result["comparisons"] if c["benchmark"]["key"] == key)


def test_the_library_holds_every_study_of_the_clinical_reference_with_its_citation() -> None:
    studies = set(Benchmark.objects.values_list("study", flat=True))
    assert studies >= {
        "kim2010",
        "cusi2010",
        "sij19",
        "yelland2004",
        "cochrane2007",
        "hauser-case",
        "hoffman2018",
    }
    kim = Benchmark.objects.get(key="kim2010-prolo")
    assert (kim.figure, kim.ci_low, kim.ci_high, kim.n, kim.horizon_months) == (
        58.7,
        37.9,
        79.5,
        23,
        15.0,
    )
    assert "J Altern Complement Med" in kim.citation
    assert all(b.citation for b in Benchmark.objects.all())


def test_a_cohort_near_kim_2010_durability_is_consistent_with_it() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, durability_cohort(np.random.default_rng(3), 150, 0.587))
    kim = _comparison(clinic_id, "kim2010-prolo")
    real = kim["real_world"]
    assert 37.9 <= real["estimate"] <= 79.5
    assert real["ci_low"] < real["estimate"] < real["ci_high"]
    assert real["n"] >= 10
    assert kim["test"]["name"] == "z_from_standard_errors"
    assert kim["verdict"] == "consistent"
    # The same cohort against the steroid arm (10.2 %) is clearly higher.
    assert _comparison(clinic_id, "kim2010-steroid")["verdict"] == "higher"


def test_a_cohort_at_twenty_percent_durability_is_lower_than_kim_2010() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, durability_cohort(np.random.default_rng(4), 150, 0.20))
    kim = _comparison(clinic_id, "kim2010-prolo")
    assert kim["real_world"]["estimate"] < 30
    assert kim["verdict"] == "lower"
    assert "p = " in kim["reason"]


def test_too_few_patients_at_the_horizon_says_so() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, durability_cohort(np.random.default_rng(5), 6, 0.587))
    kim = _comparison(clinic_id, "kim2010-prolo")
    assert kim["real_world"]["n"] < 10
    assert kim["verdict"] == "too few patients to say"


def test_responder_benchmarks_with_counts_are_tested_with_fishers_exact_test() -> None:
    clinic_id = uuid.uuid4()
    # 10 courses scored at 3 months, 2 of them with >= 30 % relief (sij19: 15 of 19): an
    # expected count below 5 in the 2x2 table.
    courses = [BulkCourse(baseline=8, observations=[(91, 4.0)]) for _ in range(2)]
    courses += [BulkCourse(baseline=8, observations=[(91, 7.0)]) for _ in range(8)]
    bulk_cohort(clinic_id, courses)
    sij = _comparison(clinic_id, "sij19-3m")
    assert sij["real_world"]["n"] == 10
    assert sij["real_world"]["responders"] == 2
    assert sij["benchmark"]["interval_source"] == "wilson"
    assert sij["test"]["name"] == "fisher_exact"
    assert sij["verdict"] == "lower"


def test_without_counts_or_interval_the_published_figure_is_set_against_our_interval() -> None:
    clinic_id = uuid.uuid4()
    # 20 scored at 12 months, 9 with >= 50 % relief (45 %); Yelland's arm: 46 %, no counts.
    courses = [BulkCourse(baseline=8, observations=[(365, 3.0)]) for _ in range(9)]
    courses += [BulkCourse(baseline=8, observations=[(365, 6.0)]) for _ in range(11)]
    bulk_cohort(clinic_id, courses)
    yelland = _comparison(clinic_id, "yelland2004-glucose")
    assert yelland["test"] is None
    assert yelland["benchmark"]["ci_low"] is None
    assert yelland["verdict"] == "consistent"
    assert "inside" in yelland["reason"]


def test_a_study_added_in_the_library_is_compared_with_no_code() -> None:
    clinic_id = uuid.uuid4()
    bulk_cohort(clinic_id, [BulkCourse(baseline=8, observations=[(183, 2.0)]) for _ in range(12)])
    Benchmark.objects.create(
        key="new-study-6m",
        study="new-study",
        citation="A new study, 2026.",
        design="Cohort",
        n=40,
        intervention="Dextrose",
        endpoint=">= 50 % relief at 6 months",
        endpoint_kind="nrs_responders",
        threshold=50,
        horizon_months=6,
        figure=40.0,
        responders=16,
    )
    new = _comparison(clinic_id, "new-study-6m")
    assert (new["real_world"]["n"], new["real_world"]["responders"]) == (12, 12)
    assert new["verdict"] == "higher"


def test_context_only_studies_are_listed_without_a_verdict() -> None:
    result = cohort_benchmarks(clinic_id=uuid.uuid4(), cohort=EVERYONE)
    assert {c["key"] for c in result["not_compared"]} >= {"cochrane2007", "hauser-case"}
    assert "cochrane2007" not in {c["benchmark"]["key"] for c in result["comparisons"]}
