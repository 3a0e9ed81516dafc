"""Cohort exports asked for on the dashboard: built in the background, in parts, with progress.

An export holds patient data: only the clinician who asked for it can download it, and it is
deleted DASHBOARD_EXPORT_KEEP_HOURS after it was asked for.
"""

from __future__ import annotations

import uuid

from django.db import models


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV: one line per score"
    FHIR = "fhir", "FHIR R4: one Bundle per patient (NDJSON)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Being built"
    DONE = "done", "Ready to download"
    FAILED = "failed", "Failed"


class Export(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic_id = models.UUIDField()
    requested_by = models.UUIDField()
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    # The cohort filters as the analysis API takes them (CohortFilter.params()).
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    # Progress: scores written of all the cohort's scores (CSV), or patients (FHIR).
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="export_created")]

    def __str__(self) -> str:
        return f"{self.format} export {self.id}"

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class ExportPart(models.Model):
    """A slice of the export's file, in order; the download streams them one after another."""

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="parts")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["export", "seq"], name="exportpart_unique_seq")
        ]

    def __str__(self) -> str:
        return f"part {self.seq} of export {self.export_id}"
