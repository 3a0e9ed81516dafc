from django.urls import path

from outcomes.analytics import apis

urlpatterns = [
    path("cohort/curve/", apis.CohortCurveApi.as_view(), name="cohort-curve"),
    path("cohort/responders/", apis.CohortRespondersApi.as_view(), name="cohort-responders"),
    path("cohort/survival/", apis.CohortSurvivalApi.as_view(), name="cohort-survival"),
    path("cohort/benchmarks/", apis.CohortBenchmarksApi.as_view(), name="cohort-benchmarks"),
    path("cohort/export.csv", apis.CohortExportApi.as_view(), name="cohort-export"),
    path("benchmarks/", apis.BenchmarkListApi.as_view(), name="benchmarks"),
    path("patients/", apis.PatientListApi.as_view(), name="patients"),
    path(
        "patients/<uuid:patient_id>/curve/", apis.PatientCurveApi.as_view(), name="patients-curve"
    ),
    path("patients/<uuid:patient_id>/fhir/", apis.PatientFhirApi.as_view(), name="patients-fhir"),
    path("me/progress/", apis.MyProgressApi.as_view(), name="me-progress"),
]
