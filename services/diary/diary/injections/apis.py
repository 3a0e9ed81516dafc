"""Injections: clinicians record them for patients of their clinic, correct, verify and delete
them; a patient reads their own and may report one themselves (unverified).

Input is checked by ``diary.injections.validation``; the input serializers below document it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from diary.common.api import (
    IF_MATCH,
    REPLAYED_HEADER,
    body_object,
    expected_version,
    list_filter_parameters,
    optional_version,
    paginated_list,
    problems,
    query_datetime,
    query_uuid,
    raise_invalid,
    with_etag,
)
from diary.common.audit import record_read
from diary.common.choices import CoTreatment
from diary.common.idempotency import Written
from diary.injections import selectors, services
from diary.injections.choices import (
    DEXTROSE_MAX_PERCENT,
    DEXTROSE_MIN_PERCENT,
    PROTOCOLS,
    Anaesthetic,
    Diagnosis,
    Guidance,
    Laterality,
    RecordedByRole,
    Site,
    Solution,
)
from diary.injections.models import Injection
from diary.injections.validation import validate_injection
from diary.patients.models import Patient
from diary.patients.selectors import patient_get_of_clinic, patient_get_visible
from diary.patients.services import patient_for_write
from shared.auth.principal import TokenUser, caller

RESOURCE = "injections"


def _require_clinician(user: TokenUser) -> None:
    if not user.is_clinician or user.clinic_id is None:
        raise PermissionDenied("Only a clinician of the patient's clinic may do this.")


class CodeField(serializers.ChoiceField):
    """A code that may be unknown: stored as "", shown as null."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        super().__init__(choices, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return value or None


def _code(choices: Any, help_text: str = "") -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices, required=False, allow_null=True, help_text=help_text
    )


class InjectionInputSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(
        required=False, help_text="Optional, chosen by the client: re-sending it is idempotent."
    )
    performed_at = serializers.DateTimeField(help_text="When it was given, with a UTC offset.")
    site = _code(Site.choices)
    laterality = _code(Laterality.choices)
    solution = _code(Solution.choices)
    dextrose_percent = serializers.FloatField(
        min_value=DEXTROSE_MIN_PERCENT,
        max_value=DEXTROSE_MAX_PERCENT,
        required=False,
        allow_null=True,
        help_text="Concentration (w/v %), for a dextrose solution only.",
    )
    anaesthetic = _code(Anaesthetic.choices)
    guidance = _code(Guidance.choices, "Image guidance.")
    protocol = _code(PROTOCOLS, "The protocol template followed.")
    diagnosis = _code(Diagnosis.choices, "What the injection treats.")
    co_treatments = serializers.ListField(
        child=serializers.ChoiceField(choices=CoTreatment.choices), required=False
    )
    course_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The course it belongs to. Left out: the patient's course whose last injection "
        "was at most DIARY_COURSE_GAP_DAYS before (or after) it, else a new course.",
    )


class InjectionCorrectionSerializer(InjectionInputSerializer):
    id = None  # type: ignore[assignment]
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version corrected, unless If-Match says it."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


class InjectionOutputSerializer(serializers.ModelSerializer[Injection]):
    patient_id = serializers.UUIDField(read_only=True)
    site = CodeField(Site.choices)
    laterality = CodeField(Laterality.choices)
    solution = CodeField(Solution.choices)
    dextrose_percent = serializers.FloatField(allow_null=True)
    anaesthetic = CodeField(Anaesthetic.choices)
    guidance = CodeField(Guidance.choices)
    protocol = CodeField(PROTOCOLS)
    diagnosis = CodeField(Diagnosis.choices)
    co_treatments = serializers.ListField(child=serializers.ChoiceField(CoTreatment.choices))
    recorded_by_role = serializers.ChoiceField(RecordedByRole.choices)

    class Meta:
        model = Injection
        fields = [
            "id",
            "patient_id",
            "performed_at",
            "site",
            "laterality",
            "solution",
            "dextrose_percent",
            "anaesthetic",
            "guidance",
            "protocol",
            "diagnosis",
            "co_treatments",
            "course_id",
            "number_in_course",
            "recorded_by",
            "recorded_by_role",
            "verified",
            "verified_by",
            "verified_at",
            "received_at",
            "updated_at",
            "version",
            "server_seq",
        ]
        read_only_fields = fields


def _injection_response(injection: Injection, status_code: int = status.HTTP_200_OK) -> Response:
    data = InjectionOutputSerializer(injection).data
    return with_etag(Response(data, status=status_code), injection.version)


def _created_response(request: Request, written: Written[Injection]) -> Response:
    if written.created:
        response = _injection_response(written.obj, status.HTTP_201_CREATED)
    else:
        response = _injection_response(written.obj)
        response[REPLAYED_HEADER] = "true"
    response["Location"] = f"/api/diary/v1/injections/{written.obj.id}/"
    return response


def _record(request: Request, patient: Callable[[], Patient], user: TokenUser) -> Response:
    cleaned, errors = validate_injection(body_object(request))
    raise_invalid(errors)
    written = services.injection_record(patient=patient(), actor=user, values=cleaned)
    return _created_response(request, written)


_CREATED = {
    201: InjectionOutputSerializer,
    200: OpenApiResponse(
        InjectionOutputSerializer,
        description=f"Sent before (same id and content): the stored injection, {REPLAYED_HEADER}.",
    ),
}


class InjectionListApi(GenericAPIView[Injection]):
    """Injections the caller may read (a patient's own; a clinician's clinic's), by when they were
    given. A patient reports an injection here (unverified until a clinician verifies it)."""

    serializer_class = InjectionOutputSerializer

    @extend_schema(
        operation_id="injections_list",
        parameters=list_filter_parameters("performed"),
        responses={200: InjectionOutputSerializer(many=True), **problems(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        rows = selectors.injection_list(
            user=caller(request),
            patient_id=query_uuid(request, "patient"),
            performed_after=query_datetime(request, "performed_after"),
            performed_before=query_datetime(request, "performed_before"),
        )
        return paginated_list(self, rows, InjectionOutputSerializer, resource=RESOURCE)

    @extend_schema(
        operation_id="injections_self_report",
        request=InjectionInputSerializer,
        responses={**_CREATED, **problems(400, 401, 403, 409, 410, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        user = caller(request)
        if not user.is_patient:
            raise PermissionDenied(
                "Patients report their own injections here; clinicians record them at "
                "patients/{patient_id}/injections/."
            )
        return _record(request, lambda: patient_for_write(user=user), user)


class PatientInjectionListApi(GenericAPIView[Injection]):
    """A patient's injections; a clinician of their clinic records a new one (verified)."""

    serializer_class = InjectionOutputSerializer

    @extend_schema(
        operation_id="patients_injections_list",
        parameters=list_filter_parameters("performed")[1:],
        responses={200: InjectionOutputSerializer(many=True), **problems(400, 401, 404)},
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        patient_get_visible(user, patient_id)
        rows = selectors.injection_list(
            user=user,
            patient_id=patient_id,
            performed_after=query_datetime(request, "performed_after"),
            performed_before=query_datetime(request, "performed_before"),
        )
        return paginated_list(self, rows, InjectionOutputSerializer, resource=RESOURCE)

    @extend_schema(
        operation_id="patients_injections_create",
        request=InjectionInputSerializer,
        responses={**_CREATED, **problems(400, 401, 403, 404, 409, 410, 413, 429)},
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        _require_clinician(user)
        patient = patient_get_of_clinic(user, patient_id)
        return _record(request, lambda: patient, user)


class InjectionDetailApi(APIView):
    """One injection. A clinician of the patient's clinic corrects or deletes it."""

    @extend_schema(
        operation_id="injections_read",
        responses={200: InjectionOutputSerializer, **problems(401, 404)},
    )
    def get(self, request: Request, injection_id: uuid.UUID) -> Response:
        user = caller(request)
        injection = selectors.injection_get(user=user, injection_id=injection_id)
        record_read(user, injection.patient_id, RESOURCE, injection.id)
        return _injection_response(injection)

    @extend_schema(
        operation_id="injections_correct",
        parameters=[IF_MATCH],
        request=InjectionCorrectionSerializer,
        responses={
            200: InjectionOutputSerializer,
            **problems(400, 401, 403, 404, 412, 413, 428, 429),
        },
    )
    def patch(self, request: Request, injection_id: uuid.UUID) -> Response:
        user = caller(request)
        _require_clinician(user)
        injection = selectors.injection_get_of_clinic(user=user, injection_id=injection_id)
        body = body_object(request)
        version = expected_version(request, body)
        cleaned, errors = validate_injection(body, partial=True)
        raise_invalid(errors)
        injection = services.injection_correct(
            injection=injection, actor=user, changes=cleaned, expected_version=version
        )
        return _injection_response(injection)

    @extend_schema(
        operation_id="injections_delete",
        parameters=[IF_MATCH],
        request=None,
        responses={204: None, **problems(400, 401, 403, 404, 412, 429)},
    )
    def delete(self, request: Request, injection_id: uuid.UUID) -> Response:
        user = caller(request)
        _require_clinician(user)
        injection = selectors.injection_get_of_clinic(user=user, injection_id=injection_id)
        services.injection_delete(
            injection=injection, actor=user, expected_version=optional_version(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InjectionVerifyApi(APIView):
    """A clinician of the patient's clinic confirms a self-reported injection."""

    @extend_schema(
        operation_id="injections_verify",
        parameters=[IF_MATCH],
        request=None,
        responses={200: InjectionOutputSerializer, **problems(400, 401, 403, 404, 412, 429)},
    )
    def post(self, request: Request, injection_id: uuid.UUID) -> Response:
        user = caller(request)
        _require_clinician(user)
        injection = selectors.injection_get_of_clinic(user=user, injection_id=injection_id)
        injection = services.injection_verify(
            injection=injection, actor=user, expected_version=optional_version(request)
        )
        return _injection_response(injection)
