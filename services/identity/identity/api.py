"""API helpers shared by identity's apps: input fields and the documented error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class NestedNameAutoSchema(AutoSchema):
    """Names a view's nested serializer after the view (TokenObtainApi.InputSerializer becomes
    TokenObtainInput), so every view can call its own one InputSerializer."""

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        parts = type(serializer).__qualname__.split(".")
        if len(parts) > 1:
            return parts[-2].removesuffix("Api") + parts[-1].removesuffix("Serializer")
        return str(super().get_serializer_name(serializer, direction))


class EmailAddressField(serializers.EmailField):
    """An e-mail address in its one stored spelling (see accounts.models.normalise_email)."""

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).strip().lower()


PROBLEM = inline_serializer(
    "Problem",
    {
        "type": serializers.URLField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "instance": serializers.CharField(required=False),
        "request_id": serializers.CharField(required=False),
        "errors": serializers.ListField(
            child=serializers.DictField(child=serializers.CharField()), required=False
        ),
    },
)


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema."""
    descriptions = {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found (or outside the caller's scope)",
        409: "Conflicts with the current state",
        410: "No longer usable",
        413: "Body too large",
        429: "Too many attempts; see Retry-After",
    }
    return {
        status: OpenApiResponse(PROBLEM, description=descriptions.get(status, "Error"))
        for status in statuses
    }
