"""System checks of the events wiring (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from shared.events.catalogue import SERVICES, event_type
from shared.events.registry import handled_types


def check_handlers_are_subscribed(**kwargs: Any) -> list[checks.CheckMessage]:
    """A handler of a type this service does not subscribe to would never be called."""
    service = getattr(settings, "SERVICE_NAME", "")
    if service not in SERVICES:
        # A project that is not one of the services (a test project) subscribes to nothing.
        return []
    return [
        checks.Warning(
            f"a handler is registered for {name}, which the catalogue never delivers to {service}",
            hint="Add the service to the type's subscribers in shared.events.catalogue.",
            id="events.W001",
        )
        for name in sorted(handled_types())
        if service not in event_type(name).subscribers
    ]
