"""What the dashboard's pages share: reading another service that may be down, and where a
button may send the clinician back to."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from outcomes.dashboard import clients


def optional(call: Any, *args: Any, default: Any = None) -> tuple[Any, str | None]:
    """A read from another service, or ``default`` and the service's name when it is down."""
    try:
        return call(*args), None
    except clients.ServiceUnavailable as exc:
        return default, exc.service


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    # Only a path of this dashboard: never somewhere else.
    if target.startswith("/dashboard/") and "//" not in target and "\\" not in target:
        return target
    return fallback
