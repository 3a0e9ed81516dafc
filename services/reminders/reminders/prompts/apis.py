"""Prompts for the phone (what to answer now, receipts), for clinicians (adherence, a patient's
timeline), and providers' delivery reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reminders.api import problems
from reminders.channels import registry
from reminders.channels.base import CallbackRefused, CallbacksUnsupported
from reminders.patients.models import Patient
from reminders.patients.selectors import clinic_patient
from reminders.prompts import selectors
from reminders.prompts.models import Prompt
from reminders.prompts.services.answering import (
    RECEIPT_EVENTS,
    delivery_receipts_record,
    prompt_receipt,
)
from reminders.schedules.timing import UnknownTimezone, zone
from shared.api.errors import ProblemError
from shared.api.serializers import StrictInputSerializer
from shared.auth.permissions import IsClinician, IsPatient
from shared.auth.principal import caller


def _local(value: datetime | None, tz_name: str) -> str | None:
    if value is None:
        return None
    try:
        return value.astimezone(zone(tz_name)).isoformat()
    except UnknownTimezone:
        return None


class OpenPromptSerializer(serializers.ModelSerializer[Prompt]):
    due_at = serializers.DateTimeField(source="intended_at", help_text="When it was due (UTC).")
    due_local = serializers.SerializerMethodField(help_text="The same in the patient's time.")
    expires_local = serializers.SerializerMethodField()

    class Meta:
        model = Prompt
        fields = [
            "id",
            "kind",
            "instrument",
            "status",
            "injection_id",
            "timezone",
            "due_at",
            "due_local",
            "expires_at",
            "expires_local",
            "nudges_sent",
        ]

    def get_due_local(self, prompt: Prompt) -> str | None:
        return _local(prompt.intended_at, prompt.timezone)

    def get_expires_local(self, prompt: Prompt) -> str | None:
        return _local(prompt.expires_at, prompt.timezone)


class OpenPromptListApi(APIView):
    """The caller's prompts to answer now, oldest first."""

    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="prompts_open",
        responses={200: OpenPromptSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        prompts = selectors.open_prompts(patient_id=caller(request).id, now=timezone.now())
        return Response(OpenPromptSerializer(prompts, many=True).data)


class PromptReceiptApi(APIView):
    """The phone reports that a prompt's notification arrived (delivered) or was opened."""

    permission_classes = [IsPatient]

    class InputSerializer(StrictInputSerializer):
        event = serializers.ChoiceField(choices=[(e, e) for e in RECEIPT_EVENTS])
        at = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="prompts_receipt",
        request=InputSerializer,
        responses={200: OpenPromptSerializer, **problems(400, 401, 403, 404)},
    )
    def post(self, request: Request, prompt_id: uuid.UUID) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prompt = selectors.own_prompt(patient_id=caller(request).id, prompt_id=prompt_id)
        now = timezone.now()
        at = min(serializer.validated_data.get("at") or now, now)
        prompt = prompt_receipt(prompt=prompt, event=serializer.validated_data["event"], at=at)
        return Response(OpenPromptSerializer(prompt).data)


# --- Clinicians -------------------------------------------------------------------------------


class AdherenceSerializer(serializers.ModelSerializer[Patient]):
    patient_id = serializers.UUIDField(source="id")
    prompts_sent = serializers.IntegerField()
    prompts_answered = serializers.IntegerField()
    prompts_expired = serializers.IntegerField()
    adherence = serializers.SerializerMethodField(
        help_text="Answered / sent, 0 to 1; null before the first prompt."
    )
    last_answered_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = Patient
        fields = [
            "patient_id",
            "prompts_sent",
            "prompts_answered",
            "prompts_expired",
            "adherence",
            "last_answered_at",
        ]

    def get_adherence(self, patient: Any) -> float | None:
        sent = patient.prompts_sent
        return round(patient.prompts_answered / sent, 4) if sent else None


class AdherenceListApi(GenericAPIView[Patient]):
    """Adherence of every patient of the caller's clinic (paged)."""

    permission_classes = [IsClinician]
    serializer_class = AdherenceSerializer

    def get_queryset(self) -> Any:
        return selectors.adherence(caller(self.request))

    @extend_schema(
        operation_id="adherence_list",
        responses={200: AdherenceSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AdherenceSerializer(page, many=True).data)


class AdherenceDetailApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(
        operation_id="adherence_read",
        responses={200: AdherenceSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = selectors.patient_adherence(caller(request), patient_id)
        return Response(AdherenceSerializer(patient).data)


class NextPromptSerializer(serializers.ModelSerializer[Patient]):
    patient_id = serializers.UUIDField(source="id")
    next_prompt_at = serializers.DateTimeField(help_text="When it is planned (UTC).")
    kind = serializers.CharField(source="next_prompt_kind")
    instrument = serializers.CharField(source="next_prompt_instrument")

    class Meta:
        model = Patient
        fields = ["patient_id", "next_prompt_at", "kind", "instrument"]


class NextPromptListApi(GenericAPIView[Patient]):
    """For each patient of the caller's clinic with a planned prompt, the next one (paged);
    patients with none planned are left out."""

    permission_classes = [IsClinician]
    serializer_class = NextPromptSerializer

    class FilterSerializer(StrictInputSerializer):
        patient = serializers.UUIDField(required=False, help_text="Only this patient.")
        page = serializers.IntegerField(required=False, min_value=1)
        page_size = serializers.IntegerField(required=False, min_value=1)

    @extend_schema(
        operation_id="next_prompts_list",
        parameters=[FilterSerializer],
        responses={200: NextPromptSerializer(many=True), **problems(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows = selectors.next_prompts(
            caller(request), patient_id=query.validated_data.get("patient")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(NextPromptSerializer(page, many=True).data)


class TimelineSerializer(serializers.ModelSerializer[Prompt]):
    local_time = serializers.TimeField(format="%H:%M")

    class Meta:
        model = Prompt
        fields = [
            "id",
            "course_id",
            "injection_id",
            "kind",
            "instrument",
            "offset_key",
            "template_version",
            "status",
            "cancel_reason",
            "timezone",
            "local_date",
            "local_time",
            "intended_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "answered_at",
            "expired_at",
            "cancelled_at",
            "expires_at",
            "channel",
            "nudges_sent",
        ]


class PatientTimelineApi(GenericAPIView[Prompt]):
    """Every prompt of one patient of the caller's clinic, in planned order: intended, sent,
    delivered, opened, answered, expired and cancelled times (paged)."""

    permission_classes = [IsClinician]
    serializer_class = TimelineSerializer

    @extend_schema(
        operation_id="patient_prompts",
        responses={200: TimelineSerializer(many=True), **problems(401, 403, 404)},
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = clinic_patient(caller(request), patient_id)
        page = self.paginate_queryset(selectors.patient_timeline(patient_id=patient.id))
        return self.get_paginated_response(TimelineSerializer(page, many=True).data)


# --- Providers --------------------------------------------------------------------------------


class ChannelReceiptsApi(APIView):
    """Delivery reports posted by a provider (Twilio's status callback, ...). The channel checks
    the provider's signature; there is no user token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        operation_id="channel_receipts", request=None, responses={204: None, **problems(403, 404)}
    )
    def post(self, request: Request, channel_name: str) -> Response:
        channel = registry.channel(channel_name)
        if channel is None:
            raise Http404
        try:
            receipts = channel.receipts(request._request)
        except CallbacksUnsupported:
            raise Http404 from None
        except CallbackRefused:
            raise ProblemError(
                "The report's signature does not verify.",
                status_code=403,
                problem_type="forbidden",
                title="Not allowed",
            ) from None
        delivery_receipts_record(
            channel=channel_name,
            receipts=[(r.provider_message_id, r.event, r.at) for r in receipts],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
