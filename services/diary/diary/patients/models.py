from __future__ import annotations

import uuid

from django.db import models


class Patient(models.Model):
    """The diary's copy of what it needs to know about a patient, kept from identity's events.

    ``id`` is the patient's identity user id (the token's ``sub``). An erased patient stays as a
    row with no diary data, so that a late event or a still-valid token cannot bring them back.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    clinic_id = models.UUIDField(db_index=True)
    timezone = models.CharField(max_length=64, default="UTC")
    is_erased = models.BooleanField(default=False)
    erased_at = models.DateTimeField(null=True, blank=True)
    # When identity's profile last applied here was current: an older event arriving late
    # (delivery is at least once, in no guaranteed order) must not undo a newer one.
    profile_as_of = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"patient {self.id}"

    @property
    def patient_id(self) -> uuid.UUID:
        return self.id
