"""OpenAPI naming: a view's nested serializer is named after the view."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema


class NestedNameAutoSchema(AutoSchema):
    """PatientListApi.OutputSerializer becomes PatientListOutput, so every view can keep its
    own nested Input/OutputSerializer without two of them colliding in the schema."""

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        parts = type(serializer).__qualname__.split(".")
        if len(parts) > 1:
            return parts[-2].removesuffix("Api") + parts[-1].removesuffix("Serializer")
        return str(super().get_serializer_name(serializer, direction))
