from __future__ import annotations

import uuid

from django.db import models

from diary.common.models import ClientCreatedRecord
from diary.injections.choices import (
    PROTOCOLS,
    Anaesthetic,
    Diagnosis,
    Guidance,
    Laterality,
    RecordedByRole,
    Site,
    Solution,
)
from diary.patients.models import Patient


class Injection(ClientCreatedRecord):
    """One injection given to a patient, recorded by a clinician of their clinic (verified) or
    reported by the patient (unverified until a clinician of the clinic verifies it).

    Details nobody recorded are stored as "" (Django's convention for text) and shown as null.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="injections")
    performed_at = models.DateTimeField()
    site = models.CharField(max_length=32, choices=Site.choices, blank=True)
    laterality = models.CharField(max_length=16, choices=Laterality.choices, blank=True)
    solution = models.CharField(max_length=16, choices=Solution.choices, blank=True)
    dextrose_percent = models.DecimalField(
        max_digits=4, decimal_places=1, null=True, blank=True, help_text="w/v, dextrose only."
    )
    anaesthetic = models.CharField(max_length=16, choices=Anaesthetic.choices, blank=True)
    guidance = models.CharField(max_length=16, choices=Guidance.choices, blank=True)
    protocol = models.CharField(max_length=40, choices=PROTOCOLS, blank=True)
    diagnosis = models.CharField(max_length=32, choices=Diagnosis.choices, blank=True)
    co_treatments = models.JSONField(default=list, blank=True)
    course_id = models.UUIDField(db_index=True)
    number_in_course = models.PositiveSmallIntegerField()
    recorded_by = models.UUIDField(editable=False)
    recorded_by_role = models.CharField(max_length=16, choices=RecordedByRole.choices)
    verified = models.BooleanField(default=False)
    verified_by = models.UUIDField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["performed_at", "server_seq"]
        indexes = [models.Index(fields=["patient", "performed_at"], name="injection_patient_time")]

    def __str__(self) -> str:
        return f"injection {self.id}"
