"""The phone's settings: push devices and notification preferences (patients only)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reminders.api import LocalTimeField, problems
from reminders.patients import selectors, services
from reminders.patients.models import Channel, Device, Platform, Preference
from shared.api.serializers import StrictInputSerializer
from shared.auth.permissions import IsPatient
from shared.auth.principal import caller

# E.164: a plus, then up to 15 digits, the first not zero.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_TOKEN_LENGTH = 4096


class DeviceOutputSerializer(serializers.ModelSerializer[Device]):
    # The token itself is never sent back: the phone has it, nobody else needs it.
    class Meta:
        model = Device
        fields = ["id", "platform", "created_at", "registered_at"]


class DeviceListApi(APIView):
    """The caller's push devices. Registering a token another patient had moves it to the
    caller (the phone changed hands); registering one's own token again refreshes it."""

    permission_classes = [IsPatient]

    class InputSerializer(StrictInputSerializer):
        platform = serializers.ChoiceField(choices=Platform.choices)
        token = serializers.CharField(max_length=MAX_TOKEN_LENGTH, trim_whitespace=True)

    @extend_schema(
        operation_id="devices_list",
        responses={200: DeviceOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        devices = selectors.devices_of(caller(request).id)
        return Response(DeviceOutputSerializer(devices, many=True).data)

    @extend_schema(
        operation_id="devices_register",
        request=InputSerializer,
        responses={
            200: DeviceOutputSerializer,
            201: DeviceOutputSerializer,
            **problems(400, 401, 403, 404),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = caller(request)
        device, created = services.device_register(
            patient_id=user.id, clinic_id=user.clinic_id, **serializer.validated_data
        )
        return Response(
            DeviceOutputSerializer(device).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class DeviceDetailApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(operation_id="devices_remove", responses={204: None, **problems(401, 403, 404)})
    def delete(self, request: Request, device_id: uuid.UUID) -> Response:
        services.device_remove(patient_id=caller(request).id, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferenceApi(APIView):
    """The caller's notification preferences. Pausing, a preferred channel or a preferred time
    of day re-plans the prompts not yet sent; contact addresses are used only for prompts."""

    permission_classes = [IsPatient]

    class InputSerializer(StrictInputSerializer):
        pause_until = serializers.DateTimeField(required=False, allow_null=True)
        preferred_channel = serializers.ChoiceField(
            choices=Channel.choices, required=False, allow_blank=True
        )
        preferred_time = LocalTimeField(required=False, allow_null=True)
        email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
        phone = serializers.CharField(required=False, allow_blank=True, max_length=16)

        def validate_phone(self, value: str) -> str:
            if value and not E164.match(value):
                raise serializers.ValidationError(
                    "Give the number in international form, e.g. +447700900123."
                )
            return value

    class OutputSerializer(serializers.ModelSerializer[Preference]):
        preferred_time = LocalTimeField(allow_null=True)

        class Meta:
            model = Preference
            fields = ["pause_until", "preferred_channel", "preferred_time", "email", "phone"]

    @extend_schema(
        operation_id="preferences_read", responses={200: OutputSerializer, **problems(401, 403)}
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.preference_of(caller(request).id)).data)

    @extend_schema(
        operation_id="preferences_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **problems(400, 401, 403, 404)},
    )
    def patch(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = caller(request)
        changes: dict[str, Any] = dict(serializer.validated_data)
        preference = services.preference_update(
            patient_id=user.id, clinic_id=user.clinic_id, changes=changes
        )
        return Response(self.OutputSerializer(preference).data)
