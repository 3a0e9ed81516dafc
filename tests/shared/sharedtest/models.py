"""Test-only models: a domain change that publishes an event, and a consumer's side effect."""

from __future__ import annotations

import uuid

from django.db import models


class PainScore(models.Model):
    """Stands in for a producer's domain row (a diary entry)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    patient_id = models.UUIDField()
    score = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"{self.score}/10"


class HandledEvent(models.Model):
    """One row per handler run, deliberately not unique: a second run of a handler shows here."""

    event_id = models.UUIDField()
    type = models.CharField(max_length=100)
    handled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class TrackedNote(models.Model):
    """Stands in for a diary row whose every write is kept in the row history, except the free
    text, which must never be copied there."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    patient_id = models.UUIDField()
    score = models.PositiveSmallIntegerField()
    flare = models.BooleanField(default=False)
    details = models.JSONField(default=dict)
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.score}/10"
