from __future__ import annotations

from django.db import models

from diary.common.models import ClientCreatedRecord
from diary.patients.models import Patient
from diary.questionnaires.instruments import INSTRUMENTS

INSTRUMENT_CHOICES = [(i.code, i.name) for i in {i.code: i for i in INSTRUMENTS}.values()]


class QuestionnaireResponse(ClientCreatedRecord):
    """A completed questionnaire: its answers (numbers per item, null where skipped) and the
    score the server computed from them. The id comes from the phone."""

    id = models.UUIDField(primary_key=True, editable=False)
    # No index of its own: the (patient, occurred_at) index below serves every lookup by patient.
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="questionnaire_responses", db_index=False
    )
    instrument = models.CharField(max_length=16, choices=INSTRUMENT_CHOICES)
    instrument_version = models.CharField(max_length=16)
    answers = models.JSONField()
    score = models.FloatField()
    occurred_at = models.DateTimeField()
    timezone = models.CharField(max_length=64)
    prompt_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "server_seq"]
        indexes = [
            models.Index(fields=["patient", "occurred_at"], name="response_patient_time"),
            # Most responses answer no prompt: only those that do are indexed.
            models.Index(
                fields=["prompt_id"],
                name="response_prompt",
                condition=models.Q(prompt_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} response {self.id}"
