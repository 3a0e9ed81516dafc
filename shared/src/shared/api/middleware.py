from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from shared.api.errors import problem_response


class BodySizeLimitMiddleware:
    """Refuses a body larger than MAX_REQUEST_BYTES with 413 before anything reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return problem_response(
                request, 400, "bad-request", "Bad request", "Content-Length is not a number."
            )
        if length > settings.MAX_REQUEST_BYTES:
            return problem_response(
                request,
                413,
                "payload-too-large",
                "Payload too large",
                f"The body may be at most {settings.MAX_REQUEST_BYTES} bytes.",
            )
        return self.get_response(request)
