from __future__ import annotations

import uuid

from django.db import models


class DiaryRecord(models.Model):
    """What every diary row carries besides its content: its place in the server sequence, when
    the server received and last changed it, its version for corrections, and soft deletion."""

    server_seq = models.BigIntegerField(
        unique=True, editable=False, help_text="Position in the diary-wide sequence of writes."
    )
    received_at = models.DateTimeField(editable=False, help_text="When the server received it.")
    updated_at = models.DateTimeField(editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ClientCreatedRecord(DiaryRecord):
    """A record whose create may be sent more than once (see diary.common.creation)."""

    # Fingerprint of the create request, so that a repeat of it is recognised.
    create_digest = models.CharField(max_length=64, editable=False)
    # Each concrete model declares its ``patient`` foreign key, with its own related name.
    patient_id: uuid.UUID

    class Meta:
        abstract = True
