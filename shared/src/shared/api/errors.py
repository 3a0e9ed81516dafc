"""One error shape for every 4xx and 5xx: RFC 9457 problem details.

{"type": "https://…/problems/validation-error", "title": "…", "status": 400,
 "detail": "…", "instance": "/api/…", "request_id": "…", "errors": [{"field": …, "message": …}]}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared.observability.context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://clinic-recovery.example/problems/"


class ProblemError(exceptions.APIException):
    """A domain error of an app, answered as a problem of the given status and type slug."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    problem_type = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        problem_type: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        if status_code is not None:
            self.status_code = status_code
        if problem_type is not None:
            self.problem_type = problem_type
        if title is not None:
            self.title = title
        self.errors = errors or []


_DRF_TYPES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.ValidationError: ("validation-error", "Invalid input"),
    exceptions.ParseError: ("malformed-request", "Malformed request body"),
    exceptions.AuthenticationFailed: ("unauthenticated", "Authentication failed"),
    exceptions.NotAuthenticated: ("unauthenticated", "Authentication required"),
    exceptions.PermissionDenied: ("forbidden", "Not allowed"),
    exceptions.NotFound: ("not-found", "Not found"),
    exceptions.MethodNotAllowed: ("method-not-allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not-acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported-media-type", "Unsupported media type"),
    exceptions.Throttled: ("rate-limited", "Too many requests"),
}


def problem(
    status_code: int,
    problem_type: str,
    title: str,
    detail: str,
    *,
    instance: str = "",
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem_type,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    return body


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {field, message} with dotted field paths."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{field}" if prefix and field else (field or prefix)
            out.extend(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.extend({"field": prefix, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                out.extend(flatten_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        out.append({"field": prefix, "message": str(detail)})
    return out


def _summary(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{first['field']}: " if first["field"] else ""
    return f"{where}{first['message']}{more}"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    instance = request.path if request is not None else ""
    if isinstance(exc, RequestDataTooBig):
        exc = ProblemError(
            "The request body is larger than this endpoint accepts.",
            status_code=413,
            problem_type="payload-too-large",
            title="Payload too large",
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (see handler500)

    if isinstance(exc, ProblemError):
        body = problem(
            exc.status_code,
            exc.problem_type,
            exc.title,
            str(exc.detail),
            instance=instance,
            errors=exc.errors,
        )
    elif isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem(
            response.status_code,
            "validation-error",
            "Invalid input",
            _summary(errors),
            instance=instance,
            errors=errors,
        )
    else:
        slug, title = next(
            (v for k, v in _DRF_TYPES.items() if isinstance(exc, k)), ("error", "Error")
        )
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, slug, title, str(detail), instance=instance)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(
    request: HttpRequest, status_code: int, slug: str, title: str, detail: str
) -> JsonResponse:
    return JsonResponse(
        problem(status_code, slug, title, detail, instance=request.path),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(request, 400, "bad-request", "Bad request", "The request is not valid.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(request, 403, "forbidden", "Not allowed", "You may not do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(request, 404, "not-found", "Not found", "Nothing is here.")


def handler500(request: HttpRequest) -> JsonResponse:
    return problem_response(
        request,
        500,
        "server-error",
        "Server error",
        "Something went wrong on our side; it has been logged.",
    )
