from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from shared.observability.context import request_context

logger = logging.getLogger("shared.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = "X-Request-ID"


class RequestContextMiddleware:
    """Gives every request an id (kept from the gateway when well-formed) and logs one access line.

    The access line has the path without its query string: a query string may carry a secret.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        with request_context(request_id):
            response = self.get_response(request)
            self._log(request, response, request_id, started)
        return response

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponse, request_id: str, started: float) -> None:
        user = getattr(request, "user", None)
        user_id = (
            str(getattr(user, "id", "") or "") if getattr(user, "is_authenticated", False) else ""
        )
        response[HEADER] = request_id
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user_id,
            },
        )
