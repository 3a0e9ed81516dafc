from __future__ import annotations

from django.db import models

from diary.common.models import ClientCreatedRecord
from diary.patients.models import Patient

NOTE_MAX_LENGTH = 2000


class PainEntry(ClientCreatedRecord):
    """A patient's diary entry: pain scores, where it hurts, medication, side effects.

    The id comes from the phone, which creates entries offline; ``occurred_at`` and ``timezone``
    are the phone's, ``received_at`` the server's. ``note`` is free text: it never leaves this
    service (no event, no log line, no error message) and the admin does not show it.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    # No index of its own: the (patient, occurred_at) index below serves every lookup by patient.
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="pain_entries", db_index=False
    )
    occurred_at = models.DateTimeField()
    timezone = models.CharField(max_length=64)
    nrs_now = models.PositiveSmallIntegerField(help_text="Pain now, 0 (none) to 10 (worst).")
    nrs_worst_24h = models.PositiveSmallIntegerField(null=True, blank=True)
    nrs_average_7d = models.PositiveSmallIntegerField(null=True, blank=True)
    body_regions = models.JSONField(default=list, blank=True)
    # [{"name": "Nurofen 200mg", "dose": "2 tablets", "nsaid": true}, ...]
    medications = models.JSONField(default=list, blank=True)
    nsaid = models.BooleanField(default=False, help_text="Any medication is an NSAID.")
    side_effects = models.JSONField(default=list, blank=True)
    red_flag = models.BooleanField(default=False, help_text="Any side effect is a red flag.")
    co_treatments = models.JSONField(default=list, blank=True)
    prompt_id = models.UUIDField(null=True, blank=True)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["occurred_at", "server_seq"]
        verbose_name_plural = "pain entries"
        indexes = [
            models.Index(fields=["patient", "occurred_at"], name="entry_patient_time"),
            # Most entries answer no prompt: only those that do are indexed.
            models.Index(
                fields=["prompt_id"],
                name="entry_prompt",
                condition=models.Q(prompt_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"entry {self.id}"
