"""An injection's codes. The vocabulary shared with the event contract and outcomes lives in
``shared.vocabulary``; only who recorded an injection is diary's own."""

from __future__ import annotations

from django.db import models

from shared.vocabulary import (
    DEXTROSE_MAX_PERCENT,
    DEXTROSE_MIN_PERCENT,
    PROTOCOL_CHOICES,
    Anaesthetic,
    Diagnosis,
    Guidance,
    Laterality,
    Site,
    Solution,
)

__all__ = [
    "DEXTROSE_MAX_PERCENT",
    "DEXTROSE_MIN_PERCENT",
    "PROTOCOLS",
    "Anaesthetic",
    "Diagnosis",
    "Guidance",
    "Laterality",
    "RecordedByRole",
    "Site",
    "Solution",
]


class RecordedByRole(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient (self-reported)"


PROTOCOLS = PROTOCOL_CHOICES
