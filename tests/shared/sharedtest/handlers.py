"""Handlers of the test project, found by the same autodiscovery a service relies on."""

from __future__ import annotations

from shared.events.catalogue import Envelope
from shared.events.registry import event_handler
from sharedtest.models import HandledEvent


@event_handler("diary.entry.logged", "identity.patient.enrolled")
def record_handling(envelope: Envelope) -> None:
    HandledEvent.objects.create(event_id=envelope["id"], type=envelope["type"])
