"""Helpers for services' tests: what a producer published, checked against the catalogue."""

from __future__ import annotations

import json

from shared.events.catalogue import Envelope, validate_envelope
from shared.outbox.models import OutboxEvent


def published_envelopes(type: str | None = None, *, using: str = "default") -> list[Envelope]:
    """Envelopes in this service's outbox (oldest first), each validated against the catalogue.

    They go through JSON, as a consumer receives them. An envelope that does not match the
    catalogue raises ``InvalidEvent``, which fails the producer's test.
    """
    events = OutboxEvent.objects.using(using).order_by("created_at", "id")
    if type is not None:
        events = events.filter(type=type)
    envelopes = []
    for event in events:
        envelope = json.loads(json.dumps(event.envelope()))
        validate_envelope(envelope)
        envelopes.append(envelope)
    return envelopes
