"""The consumer side: handle a delivered event once, however often it is delivered."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction

from shared.events.catalogue import Envelope, validate_envelope
from shared.events.registry import handlers_for
from shared.outbox.models import ProcessedEvent

logger = logging.getLogger(__name__)


def event_handle(*, envelope: Envelope, using: str = "default") -> bool:
    """Run this service's handlers of ``envelope``; return False if it was already handled.

    The processed-event row and the handlers' writes commit together, so a handler that raises
    leaves nothing behind and the redelivery runs it again. Raises ``InvalidEvent`` for an
    envelope that does not match the catalogue: no retry can fix that.
    """
    spec = validate_envelope(envelope, allow_unknown_fields=True)
    event_id = uuid.UUID(envelope["id"])
    handlers = handlers_for(spec.name)
    log_extra = {"event_id": str(event_id), "event_type": spec.name}
    with transaction.atomic(using=using):
        if ProcessedEvent.objects.using(using).filter(event_id=event_id).exists():
            logger.info("event already handled", extra=log_extra)
            return False
        try:
            with transaction.atomic(using=using):
                ProcessedEvent.objects.using(using).create(event_id=event_id, type=spec.name)
        except IntegrityError:
            # A concurrent delivery of the same event inserted first; its commit made ours fail.
            logger.info("event handled by a concurrent delivery", extra=log_extra)
            return False
        for handler in handlers:
            handler(envelope)
    logger.info("event handled", extra={**log_extra, "handlers": len(handlers)})
    return True
