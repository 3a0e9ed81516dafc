"""Flags for clinicians: something in a patient's diary that a clinician should look at."""

from __future__ import annotations

import uuid

from django.db import models


class FlagKind(models.TextChoices):
    RED_FLAG = "red_flag", "Red-flag side effect"
    FLARE_PERSISTING = "flare_persisting", "Pain still above baseline 4 weeks after an injection"
    NSAID_AFTER_INJECTION = (
        "nsaid_after_injection",
        "Anti-inflammatory within 7 days of an injection",
    )
    NO_MCID_AFTER_THREE = (
        "no_mcid_after_three_injections",
        "No clinically important improvement after 3 injections",
    )
    LOW_ADHERENCE = "low_adherence", "Missed prompts"


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class FlagSeverity(models.TextChoices):
    URGENT = "urgent", "Urgent"
    REVIEW = "review", "Review"


class Flag(models.Model):
    """One flag, raised once per cause: ``key`` names the cause (the kind and the record behind
    it), and a second attempt to raise the same cause finds the first flag instead."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=160, unique=True)
    kind = models.CharField(max_length=40, choices=FlagKind.choices)
    severity = models.CharField(max_length=8, choices=FlagSeverity.choices)
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    clinic_id = models.UUIDField()
    patient_id = models.UUIDField(db_index=True)
    course_id = models.UUIDField(null=True, blank=True)
    raised_at = models.DateTimeField()
    # Ids, codes and numbers that explain the flag; never free text.
    evidence = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.UUIDField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "id"]
        indexes = [
            models.Index(fields=["clinic_id", "status", "raised_at"], name="flag_clinic_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for patient {self.patient_id}"
