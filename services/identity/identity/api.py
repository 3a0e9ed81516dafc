"""API helpers shared by identity's apps: input fields and the documented error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from shared.api.schema import problem_responses


class EmailAddressField(serializers.EmailField):
    """An e-mail address in its one stored spelling (see accounts.models.normalise_email)."""

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).strip().lower()


# Where identity says it otherwise than shared.api.schema.DESCRIPTIONS.
_DESCRIPTIONS = {
    429: "Too many attempts; see Retry-After",
}


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema."""
    return problem_responses(statuses, _DESCRIPTIONS)
