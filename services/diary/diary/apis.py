from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.auth.principal import caller


class WhoAmIApi(APIView):
    """Who the diary sees the caller as: the identity behind the access token."""

    @extend_schema(
        responses=inline_serializer(
            "WhoAmI",
            {
                "user_id": serializers.UUIDField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "clinic_id": serializers.UUIDField(allow_null=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        user = caller(request)
        return Response(
            {
                "user_id": str(user.id),
                "roles": sorted(user.roles),
                "clinic_id": str(user.clinic_id) if user.clinic_id else None,
            }
        )
