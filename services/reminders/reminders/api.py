"""API helpers shared by the reminders apps: schema naming, problem responses, time fields."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class NestedNameAutoSchema(AutoSchema):
    """Names a view's nested serializer after the view (DeviceListApi.InputSerializer becomes
    DeviceListInput), so every view can call its own one InputSerializer."""

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


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema."""
    descriptions = {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found (or outside the caller's scope)",
        409: "Conflicts with the current state",
    }
    return {
        status: OpenApiResponse(PROBLEM, description=descriptions.get(status, "Error"))
        for status in statuses
    }


class LocalTimeField(serializers.TimeField):
    """A wall-clock time of day as HH:MM; seconds are refused rather than silently dropped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


def _indexed(detail: Any) -> Any:
    """DRF reports errors of a list's items as {index: errors}; as a list (with empty entries
    for the valid items) they flatten to the documented ``offsets[3].days`` paths."""
    if isinstance(detail, dict):
        if detail and all(isinstance(key, int) for key in detail):
            items: list[Any] = [{} for _ in range(max(detail) + 1)]
            for key, value in detail.items():
                items[key] = _indexed(value)
            return items
        return {key: _indexed(value) for key, value in detail.items()}
    return detail


def validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    """The serializer's validated data, or a 400 problem with one entry per field at fault."""
    if not serializer.is_valid():
        raise serializers.ValidationError(_indexed(serializer.errors))
    return dict(serializer.validated_data)
