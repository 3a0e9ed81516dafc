"""Shapes of the analysis results, for the OpenAPI schema and the responses.

All proportions and changes are in percent; days and weeks count from the first injection of
the course (day 0 is its calendar day in the patient's time zone; week 0 is days 0-6).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from outcomes.analytics.cohorts import NO_CO_TREATMENT, CohortFilter
from shared.api.serializers import StrictInputSerializer

_LIST_HELP = "One or more values, comma-separated (or the parameter repeated); any matches."


class CohortQuerySerializer(StrictInputSerializer):
    site = serializers.CharField(required=False, help_text=_LIST_HELP)
    laterality = serializers.CharField(required=False, help_text=_LIST_HELP)
    solution = serializers.CharField(required=False, help_text=_LIST_HELP)
    protocol = serializers.CharField(required=False, help_text=_LIST_HELP)
    guidance = serializers.CharField(required=False, help_text=_LIST_HELP)
    diagnosis = serializers.CharField(required=False, help_text=_LIST_HELP)
    co_treatment = serializers.CharField(
        required=False, help_text=f"{_LIST_HELP} '{NO_CO_TREATMENT}': no co-treatment at all."
    )
    age_band = serializers.CharField(
        required=False,
        help_text=f"{_LIST_HELP} under_30, 30_39, 40_49, 50_59, 60_69, 70_plus, unknown.",
    )
    sex = serializers.CharField(required=False, help_text=_LIST_HELP)
    first_injection_from = serializers.DateField(
        required=False, help_text="First injection on or after this date."
    )
    first_injection_to = serializers.DateField(
        required=False, help_text="First injection on or before this date."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("first_injection_from"), attrs.get("first_injection_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"first_injection_to": "Must not be before first_injection_from."}
            )
        return attrs

    def cohort(self) -> CohortFilter:
        data = self.validated_data
        lists = {
            name: tuple(sorted({v.strip() for v in data[name].split(",") if v.strip()}))
            for name in (*CohortFilter.attribute_names(), "co_treatment")
            if data.get(name)
        }
        return CohortFilter(
            **lists,
            first_injection_from=data.get("first_injection_from"),
            first_injection_to=data.get("first_injection_to"),
        )


class CohortHeaderSerializer(serializers.Serializer[Any]):
    filters = serializers.DictField(help_text="The filters applied.")
    courses = serializers.IntegerField(help_text="Courses of injections in the cohort.")
    patients = serializers.IntegerField()
    with_baseline = serializers.IntegerField(help_text="Courses with a baseline NRS above 0.")


class CurvePointSerializer(serializers.Serializer[Any]):
    week = serializers.IntegerField()
    n = serializers.IntegerField(help_text="Courses with a score that week.")
    median = serializers.FloatField()
    q1 = serializers.FloatField()
    q3 = serializers.FloatField()
    mean = serializers.FloatField()
    ci_low = serializers.FloatField(allow_null=True, help_text="95 % CI of the mean (t).")
    ci_high = serializers.FloatField(allow_null=True)


class CurveSerializer(serializers.Serializer[Any]):
    cohort = CohortHeaderSerializer()
    nrs_percent_change = CurvePointSerializer(
        many=True, help_text="Relief: (baseline - NRS) / baseline, percent."
    )
    odi_points_change = CurvePointSerializer(
        many=True, help_text="Baseline ODI - ODI, points (positive is better)."
    )


class ResponderEndpointSerializer(serializers.Serializer[Any]):
    measure = serializers.ChoiceField(choices=["nrs_percent", "nrs_points", "odi_points"])
    threshold = serializers.FloatField(help_text="Percent (nrs_percent) or points.")
    n = serializers.IntegerField(help_text="Courses with a score in the horizon's window.")
    responders = serializers.IntegerField()
    percent = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True, help_text="95 % Wilson interval.")
    ci_high = serializers.FloatField(allow_null=True)


class ResponderHorizonSerializer(serializers.Serializer[Any]):
    months = serializers.IntegerField()
    day = serializers.IntegerField()
    window_days = serializers.IntegerField(help_text="The nearest score within +- this many days.")
    due = serializers.IntegerField(help_text="Courses whose window has closed.")
    endpoints = ResponderEndpointSerializer(many=True)


class RespondersSerializer(serializers.Serializer[Any]):
    cohort = CohortHeaderSerializer()
    horizons = ResponderHorizonSerializer(many=True)


class KmPointSerializer(serializers.Serializer[Any]):
    day = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    events = serializers.IntegerField()
    censored = serializers.IntegerField()
    percent = serializers.FloatField()
    ci_low = serializers.FloatField(help_text="95 % Greenwood interval (log-log).")
    ci_high = serializers.FloatField()


class KmHorizonSerializer(serializers.Serializer[Any]):
    months = serializers.IntegerField()
    day = serializers.IntegerField()
    percent = serializers.FloatField()
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    at_risk = serializers.IntegerField(help_text="Courses still followed after this day.")


class KmCurveSerializer(serializers.Serializer[Any]):
    n = serializers.IntegerField()
    events = serializers.IntegerField()
    median_days = serializers.FloatField(allow_null=True)
    timeline = KmPointSerializer(many=True)
    at_horizons = KmHorizonSerializer(many=True)


class SurvivalSerializer(serializers.Serializer[Any]):
    cohort = CohortHeaderSerializer()
    threshold = serializers.FloatField()
    time_to_relief = KmCurveSerializer(help_text="Percent that has reached the relief threshold.")
    durability = KmCurveSerializer(help_text="Percent still keeping the relief threshold.")


class SurvivalQuerySerializer(CohortQuerySerializer):
    threshold = serializers.FloatField(
        required=False, default=50.0, min_value=1, max_value=100, help_text="Relief, percent."
    )


class PublishedSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    study = serializers.CharField()
    citation = serializers.CharField()
    design = serializers.CharField()
    intervention = serializers.CharField()
    endpoint = serializers.CharField()
    endpoint_kind = serializers.CharField()
    threshold = serializers.FloatField()
    horizon_months = serializers.FloatField()
    figure = serializers.FloatField()
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    interval_source = serializers.CharField(
        allow_null=True, help_text="'published', 'wilson' (from the raw counts) or null."
    )
    n = serializers.IntegerField(allow_null=True)
    responders = serializers.IntegerField(allow_null=True)
    notes = serializers.CharField(allow_blank=True)


class RealWorldSerializer(serializers.Serializer[Any]):
    estimate = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    interval_method = serializers.CharField()
    n = serializers.IntegerField(
        help_text="Patients behind the figure (scored in the window, or still at risk)."
    )
    responders = serializers.IntegerField(allow_null=True)
    courses_in_analysis = serializers.IntegerField(allow_null=True)
    horizon_day = serializers.IntegerField()
    window_days = serializers.IntegerField(allow_null=True)


class TestSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    p_value = serializers.FloatField()


class ComparisonSerializer(serializers.Serializer[Any]):
    benchmark = PublishedSerializer()
    real_world = RealWorldSerializer()
    difference = serializers.FloatField(allow_null=True, help_text="Percentage points.")
    test = TestSerializer(allow_null=True)
    verdict = serializers.ChoiceField(
        choices=["consistent", "higher", "lower", "too few patients to say"]
    )
    reason = serializers.CharField()


class NotComparedSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    citation = serializers.CharField()
    endpoint = serializers.CharField()
    notes = serializers.CharField(allow_blank=True)


class BenchmarkComparisonSerializer(serializers.Serializer[Any]):
    cohort = CohortHeaderSerializer()
    comparisons = ComparisonSerializer(many=True)
    not_compared = NotComparedSerializer(
        many=True, help_text="Entries of the library with no figure a cohort can be set beside."
    )


class WeekSerializer(serializers.Serializer[Any]):
    week = serializers.IntegerField()
    nrs = serializers.FloatField(help_text="Mean NRS that week.")
    percent_change = serializers.FloatField(allow_null=True)
    scores = serializers.IntegerField()


class CourseCurveSerializer(serializers.Serializer[Any]):
    course_id = serializers.UUIDField()
    first_injection_date = serializers.DateField()
    injections = serializers.IntegerField()
    site = serializers.CharField(allow_null=True)
    solution = serializers.CharField(allow_null=True)
    protocol = serializers.CharField(allow_null=True)
    baseline_nrs = serializers.FloatField(allow_null=True)
    weeks = WeekSerializer(many=True)


class BandWeekSerializer(serializers.Serializer[Any]):
    week = serializers.IntegerField()
    n = serializers.IntegerField()
    q1 = serializers.FloatField()
    median = serializers.FloatField()
    q3 = serializers.FloatField()


class BandSerializer(serializers.Serializer[Any]):
    comparable_by = serializers.DictField()
    min_patients = serializers.IntegerField()
    weeks = BandWeekSerializer(many=True)


class ProgressSerializer(serializers.Serializer[Any]):
    course = CourseCurveSerializer(allow_null=True)
    band = BandSerializer()


class PatientCurveSerializer(serializers.Serializer[Any]):
    patient_id = serializers.UUIDField()
    courses = CourseCurveSerializer(many=True)
