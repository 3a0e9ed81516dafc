from __future__ import annotations

from django.db import models


class RecordedSend(models.Model):
    """A send made by the recording channel (tests and benchmarks): one row per call, in the
    database, so sends made by separate worker processes can be counted in one place."""

    channel = models.CharField(max_length=10)
    prompt_id = models.UUIDField(db_index=True)
    attempt = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=80, db_index=True)
    provider_message_id = models.CharField(max_length=80)
    worker_pid = models.PositiveIntegerField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.idempotency_key}"
