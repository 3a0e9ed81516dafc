"""API helpers shared by the reminders apps: problem responses, time fields."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from shared.api.schema import problem_responses


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema."""
    return problem_responses(statuses)


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
