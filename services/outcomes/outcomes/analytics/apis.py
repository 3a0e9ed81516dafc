"""The analysis over HTTP: the clinic's cohort analyses, its patients, exports, and the phone's
progress view. Clinicians see their own clinic only (the clinic comes from the token); a patient
outside it answers 404."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomes.analytics import exports, patients, selectors
from outcomes.analytics.serializers import (
    BenchmarkComparisonSerializer,
    CohortQuerySerializer,
    CurveSerializer,
    PatientCurveSerializer,
    ProgressSerializer,
    RespondersSerializer,
    SurvivalQuerySerializer,
    SurvivalSerializer,
)
from outcomes.benchmarks.models import Benchmark
from outcomes.benchmarks.selectors import benchmark_list
from outcomes.readmodel.models import Patient
from shared.api.serializers import StrictInputSerializer
from shared.audit.services import audit_read, audit_read_many
from shared.auth.permissions import IsClinician, IsClinicStaff, IsPatient
from shared.auth.principal import TokenUser, caller


def clinic_of(user: TokenUser) -> uuid.UUID:
    # A staff token without a clinic sees nothing rather than everything.
    if user.clinic_id is None:
        raise Http404
    return user.clinic_id


def _cohort_query(request: Request, serializer_class: type[CohortQuerySerializer]) -> Any:
    data = {key: ",".join(request.query_params.getlist(key)) for key in request.query_params}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class _CohortApi(APIView):
    permission_classes = [IsClinician]


class CohortCurveApi(_CohortApi):
    @extend_schema(parameters=[CohortQuerySerializer], responses=CurveSerializer)
    def get(self, request: Request) -> Response:
        query = _cohort_query(request, CohortQuerySerializer)
        result = selectors.cohort_curve(clinic_id=clinic_of(caller(request)), cohort=query.cohort())
        return Response(CurveSerializer(result).data)


class CohortRespondersApi(_CohortApi):
    @extend_schema(parameters=[CohortQuerySerializer], responses=RespondersSerializer)
    def get(self, request: Request) -> Response:
        query = _cohort_query(request, CohortQuerySerializer)
        result = selectors.cohort_responders(
            clinic_id=clinic_of(caller(request)), cohort=query.cohort()
        )
        return Response(RespondersSerializer(result).data)


class CohortSurvivalApi(_CohortApi):
    @extend_schema(parameters=[SurvivalQuerySerializer], responses=SurvivalSerializer)
    def get(self, request: Request) -> Response:
        query = _cohort_query(request, SurvivalQuerySerializer)
        result = selectors.cohort_survival(
            clinic_id=clinic_of(caller(request)),
            cohort=query.cohort(),
            threshold=query.validated_data["threshold"],
        )
        return Response(SurvivalSerializer(result).data)


class CohortBenchmarksApi(_CohortApi):
    @extend_schema(parameters=[CohortQuerySerializer], responses=BenchmarkComparisonSerializer)
    def get(self, request: Request) -> Response:
        query = _cohort_query(request, CohortQuerySerializer)
        result = selectors.cohort_benchmarks(
            clinic_id=clinic_of(caller(request)), cohort=query.cohort()
        )
        return Response(BenchmarkComparisonSerializer(result).data)


class CohortExportApi(_CohortApi):
    """The cohort's observations as CSV, streamed. Every patient in it is recorded as read."""

    @extend_schema(
        parameters=[CohortQuerySerializer],
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR)},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = _cohort_query(request, CohortQuerySerializer)
        user = caller(request)
        clinic_id = clinic_of(user)
        cohort = query.cohort()
        audit_read_many(
            actor=user,
            patient_ids=patients.cohort_patient_ids(clinic_id=clinic_id, cohort=cohort),
            resource="outcomes_export",
        )
        response = StreamingHttpResponse(
            exports.cohort_csv_rows(clinic_id=clinic_id, cohort=cohort),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="cohort-observations.csv"'
        return response


class BenchmarkListApi(ListAPIView[Benchmark]):
    """The library of published results the cohorts are compared with."""

    permission_classes = [IsClinicStaff]
    pagination_class = None

    class OutputSerializer(serializers.ModelSerializer[Benchmark]):
        class Meta:
            model = Benchmark
            exclude = ["id"]

    serializer_class = OutputSerializer

    def get_queryset(self) -> Any:
        return benchmark_list()


# --- Patients -------------------------------------------------------------------------------------


class PatientListApi(ListAPIView[Patient]):
    """The clinic's patients for the dashboard, most unresolved flags first."""

    permission_classes = [IsClinician]

    class FilterSerializer(StrictInputSerializer):
        flagged = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="Only with (or without) flags."
        )
        page = serializers.IntegerField(required=False, min_value=1)
        page_size = serializers.IntegerField(required=False, min_value=1)

    class OutputSerializer(serializers.ModelSerializer[Patient]):
        latest_nrs = serializers.FloatField(allow_null=True)
        latest_nrs_at = serializers.DateTimeField(allow_null=True)
        percent_change = serializers.SerializerMethodField(
            help_text="Relief of the latest NRS from the current course's baseline, percent."
        )
        course_id = serializers.UUIDField(allow_null=True)
        baseline_nrs = serializers.FloatField(allow_null=True)
        injections = serializers.IntegerField()
        adherence_percent = serializers.SerializerMethodField(
            help_text="Prompts answered of those answered or expired, percent."
        )
        prompts_closed = serializers.IntegerField()
        open_flags = serializers.IntegerField(help_text="Flags not yet resolved.")

        class Meta:
            model = Patient
            fields = [
                "patient_id",
                "sex",
                "birth_year",
                "latest_nrs",
                "latest_nrs_at",
                "percent_change",
                "course_id",
                "baseline_nrs",
                "injections",
                "adherence_percent",
                "prompts_closed",
                "open_flags",
            ]

        def get_percent_change(self, patient: Any) -> float | None:
            started = patient.course_started_at
            if patient.latest_nrs_at is None or started is None or patient.latest_nrs_at < started:
                return None
            return patients.percent_change(patient.baseline_nrs, patient.latest_nrs)

        def get_adherence_percent(self, patient: Any) -> float | None:
            if not patient.prompts_closed:
                return None
            return float(100.0 * patient.prompts_answered / patient.prompts_closed)

    serializer_class = OutputSerializer

    def get_queryset(self) -> Any:
        query = self.FilterSerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return patients.clinic_patients(
            clinic_id=clinic_of(caller(self.request)), flagged=query.validated_data["flagged"]
        )

    @extend_schema(parameters=[FilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page) if page is not None else []
        audit_read_many(
            actor=caller(request),
            patient_ids=[row.patient_id for row in rows],
            resource="outcomes_summary",
        )
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class PatientCurveApi(APIView):
    """One patient's courses, week by week: mean NRS and relief from baseline."""

    permission_classes = [IsClinician]

    @extend_schema(responses=PatientCurveSerializer)
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        result = patients.clinic_patient_curve(clinic_id=clinic_of(user), patient_id=patient_id)
        audit_read(actor=user, patient_id=patient_id, resource="outcomes_curve")
        return Response(PatientCurveSerializer(result).data)


class PatientFhirApi(APIView):
    """The patient's scores as a FHIR R4 Bundle (NRS as Observation, LOINC 72514-3; ODI, PGIC
    and RMDQ as QuestionnaireResponse)."""

    permission_classes = [IsClinician]

    @extend_schema(responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT})
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        bundle = exports.patient_fhir_bundle(clinic_id=clinic_of(user), patient_id=patient_id)
        audit_read(actor=user, patient_id=patient_id, resource="outcomes_fhir_export")
        return Response(bundle, content_type="application/fhir+json")


class MyProgressApi(APIView):
    """The patient's own recovery week by week, beside the typical band of comparable patients
    (same protocol and site) where enough of them are behind it."""

    permission_classes = [IsPatient]

    @extend_schema(responses=ProgressSerializer)
    def get(self, request: Request) -> Response:
        result = patients.patient_progress(patient_id=caller(request).id)
        return Response(ProgressSerializer(result).data)
