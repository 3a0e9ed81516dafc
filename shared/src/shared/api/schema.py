"""What every service's OpenAPI schema shares: views' nested serializers named after the view, and
the problem-details answer (see shared.api.errors) as a documented response."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class NestedNameAutoSchema(AutoSchema):
    """Names a view's nested serializer after the view (EntryListApi.InputSerializer becomes
    EntryListInput), so every view can keep its own Input/OutputSerializer under the same short
    names without two of them colliding in the schema."""

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        parts = type(serializer).__qualname__.split(".")
        if len(parts) > 1:
            return parts[-2].removesuffix("Api") + parts[-1].removesuffix("Serializer")
        return str(super().get_serializer_name(serializer, direction))


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


# What each status means unless a service says it in its own words.
DESCRIPTIONS: Mapping[int, str] = {
    400: "Invalid input",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found (or outside the caller's scope)",
    409: "Conflicts with the current state",
    410: "No longer usable",
    413: "Body too large",
}


def problem_responses(
    statuses: Iterable[int], descriptions: Mapping[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema: ``descriptions`` (the service's words)
    before ``DESCRIPTIONS``."""
    words = {**DESCRIPTIONS, **(descriptions or {})}
    return {
        status: OpenApiResponse(PROBLEM, description=words.get(status, "Error"))
        for status in statuses
    }
