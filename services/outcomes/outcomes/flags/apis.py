from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from outcomes.analytics.apis import clinic_of
from outcomes.flags import selectors, services
from outcomes.flags.models import Flag, FlagKind, FlagStatus
from shared.api.serializers import StrictInputSerializer
from shared.audit.services import audit_read_many
from shared.auth.permissions import IsClinician
from shared.auth.principal import caller


class FlagOutputSerializer(serializers.ModelSerializer[Flag]):
    class Meta:
        model = Flag
        fields = [
            "id",
            "kind",
            "severity",
            "status",
            "patient_id",
            "course_id",
            "raised_at",
            "evidence",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]


class FlagListApi(ListAPIView[Flag]):
    """The clinic's flags, urgent first, newest first."""

    permission_classes = [IsClinician]
    serializer_class = FlagOutputSerializer

    class FilterSerializer(StrictInputSerializer):
        status = serializers.ChoiceField(choices=FlagStatus.choices, required=False)
        kind = serializers.ChoiceField(choices=FlagKind.choices, required=False)
        patient = serializers.UUIDField(required=False)
        page = serializers.IntegerField(required=False, min_value=1)
        page_size = serializers.IntegerField(required=False, min_value=1)

    def get_queryset(self) -> Any:
        query = self.FilterSerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return selectors.clinic_flags(
            clinic_id=clinic_of(caller(self.request)),
            status=data.get("status"),
            kind=data.get("kind"),
            patient_id=data.get("patient"),
        )

    @extend_schema(parameters=[FilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page) if page is not None else []
        audit_read_many(
            actor=caller(request), patient_ids=[f.patient_id for f in rows], resource="flag"
        )
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class _FlagActionApi(APIView):
    permission_classes = [IsClinician]
    action = ""

    @extend_schema(request=None, responses=FlagOutputSerializer)
    def post(self, request: Request, flag_id: uuid.UUID) -> Response:
        user = caller(request)
        flag = services.flag_act(
            actor=user, clinic_id=clinic_of(user), flag_id=flag_id, action=self.action
        )
        return Response(FlagOutputSerializer(flag).data)


class FlagAcknowledgeApi(_FlagActionApi):
    """The clinician has seen the flag and is looking into it."""

    action = "acknowledge"


class FlagResolveApi(_FlagActionApi):
    """The flag's cause has been dealt with."""

    action = "resolve"
