from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from shared.outbox.models import OutboxEvent


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    oldest_pending_at: datetime | None
    oldest_pending_age: timedelta | None
    failing: int  # pending rows the relay has already failed to publish at least once
    max_attempts: int
    last_error: str  # of the oldest failing row: the one holding the queue up


def outbox_status(*, using: str = "default") -> OutboxStatus:
    pending = OutboxEvent.objects.using(using).filter(published_at__isnull=True)
    totals = pending.aggregate(
        count=Count("id"),
        oldest=Min("created_at"),
        failing=Count("id", filter=Q(attempts__gt=0)),
        max_attempts=Max("attempts"),
    )
    oldest_failing = pending.filter(attempts__gt=0).order_by("created_at", "id").first()
    oldest: datetime | None = totals["oldest"]
    return OutboxStatus(
        pending=totals["count"],
        oldest_pending_at=oldest,
        oldest_pending_age=timezone.now() - oldest if oldest else None,
        failing=totals["failing"],
        max_attempts=totals["max_attempts"] or 0,
        last_error=oldest_failing.last_error if oldest_failing else "",
    )
