"""API helpers shared by the diary's apps: documented problems, versions, list filters."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from diary.common.audit import record_list_read
from diary.common.errors import InvalidInput, VersionRequired
from diary.common.validation import Error, Invalid, check_aware_datetime, check_uuid, error
from shared.api.schema import problem_responses
from shared.auth.principal import caller

# A repeated create answers with the stored object and this header (the Stripe convention), so
# every answer to the same create carries the same body.
REPLAYED_HEADER = "Idempotent-Replayed"

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


# Where the diary says it otherwise than shared.api.schema.DESCRIPTIONS.
_DESCRIPTIONS = {
    403: "Not allowed for this role",
    409: "The id is in use with different content",
    410: "Deleted",
    412: "The version given is not the current one",
    428: "No version given",
    429: "Too many writes; see Retry-After",
}


def problems(*statuses: int) -> dict[int, OpenApiResponse]:
    """Problem-details responses for the OpenAPI schema."""
    return problem_responses(statuses, _DESCRIPTIONS)


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description='The version being changed, as the ETag of the GET: "3". '
    "Required unless the body carries a version field.",
)


def raise_invalid(errors: list[Error]) -> None:
    if errors:
        raise InvalidInput(errors)


def body_object(request: Request) -> dict[str, Any]:
    """The JSON body, which must be an object."""
    data = request.data
    if not isinstance(data, dict):
        raise InvalidInput([error("", "Must be a JSON object.")])
    return dict(data)


def expected_version(request: Request, body: dict[str, Any] | None = None) -> int:
    """The version a correction applies to: the If-Match header or the body's ``version``
    (removed from ``body``). Neither given: 428; both given and different: 400."""
    from_body: int | None = None
    if body is not None and "version" in body:
        value = body.pop("version")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput([error("version", "Must be a whole number of at least 1.")])
        from_body = value
    header = request.headers.get("If-Match")
    from_header: int | None = None
    if header is not None and header.strip() != "*":
        match = _ETAG.match(header)
        if match is None:
            raise InvalidInput([error("If-Match", 'Must be a version in quotes, e.g. "3".')])
        from_header = int(match.group(1))
    if from_header is not None and from_body is not None and from_header != from_body:
        raise InvalidInput([error("version", "Disagrees with the If-Match header.")])
    version = from_header if from_header is not None else from_body
    if version is None:
        raise VersionRequired()
    return version


def optional_version(request: Request) -> int | None:
    """The If-Match version of a request that may omit it (a deletion)."""
    if request.headers.get("If-Match") is None:
        return None
    return expected_version(request)


def with_etag(response: Response, version: int) -> Response:
    response["ETag"] = f'"{version}"'
    return response


def query_uuid(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return check_uuid(raw)
    except Invalid as exc:
        raise InvalidInput([error(name, str(exc))]) from None


def query_datetime(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        # In a query string "+" arrives as a space.
        return check_aware_datetime(raw.replace(" ", "+"))
    except Invalid as exc:
        raise InvalidInput([error(name, str(exc))]) from None


def list_filter_parameters(time_field: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "patient", OpenApiTypes.UUID, required=False, description="Only this patient's rows."
        ),
        OpenApiParameter(
            f"{time_field}_after",
            OpenApiTypes.DATETIME,
            required=False,
            description=f"Only rows with {time_field} at or after this instant.",
        ),
        OpenApiParameter(
            f"{time_field}_before",
            OpenApiTypes.DATETIME,
            required=False,
            description=f"Only rows with {time_field} before this instant.",
        ),
    ]


def paginated_list(
    view: GenericAPIView[Any],
    rows: QuerySet[Any],
    output: type[serializers.BaseSerializer[Any]],
    *,
    resource: str,
) -> Response:
    """One page of ``rows``, each patient on it recorded as read by the caller."""
    page = view.paginate_queryset(rows)
    items = list(page) if page is not None else list(rows)
    record_list_read(caller(view.request), items, resource)
    return view.get_paginated_response(output(items, many=True).data)
