"""Writes of the dashboard: a clinician's action on a flag, and cohort exports (asked for on a
page, built by a worker in parts so the page can show progress, deleted after a while)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from outcomes.analytics import exports
from outcomes.analytics.cohorts import CohortFilter
from outcomes.analytics.patients import cohort_patient_ids
from outcomes.dashboard.models import Export, ExportFormat, ExportPart, ExportStatus
from outcomes.readmodel.models import Course, Observation
from shared.audit.services import audit_read_many, audit_record
from shared.auth.principal import TokenUser

logger = logging.getLogger(__name__)

EXPORT_TASK = "outcomes.dashboard.export_build"
EXPORTS_TEND_TASK = "outcomes.dashboard.exports_tend"
# One part of an export file is one row in the database and one progress update: this many CSV
# lines (about 1 MB) or FHIR Bundles (one per patient, about 50 kB each).
CSV_LINES_PER_PART = 5000
FHIR_PATIENTS_PER_PART = 20
# An export still waiting this long was never handed to a worker (broker down): ask again.
EXPORT_REQUEUE_AFTER = timedelta(minutes=1)
# A running export older than this had its worker die under it: built again from the start.
EXPORT_STALE_AFTER = timedelta(hours=1)
_EXPORT_READ_RESOURCE = {
    ExportFormat.CSV: "outcomes_export",
    ExportFormat.FHIR: "outcomes_fhir_export",
}


# --- Exports --------------------------------------------------------------------------------------


def cohort_from_filters(filters: dict[str, Any]) -> CohortFilter:
    """The cohort an export's stored filters (CohortFilter.params()) describe."""
    values: dict[str, Any] = {}
    for name, value in filters.items():
        if name in ("first_injection_from", "first_injection_to"):
            values[name] = date.fromisoformat(value)
        else:
            values[name] = tuple(value)
    return CohortFilter(**values)


def _kick(export_id: uuid.UUID) -> None:
    if current_app.conf.task_always_eager:
        export_build(export_id=export_id)
        return
    try:
        current_app.send_task(EXPORT_TASK, args=[str(export_id)], retry=False)
    except Exception as exc:
        # The export stays queued; exports_tend asks again a minute later.
        logger.warning(
            "export could not be handed to a worker yet", extra={"error": type(exc).__name__}
        )


def export_start(
    *, actor: TokenUser, clinic_id: uuid.UUID, cohort: CohortFilter, export_format: str
) -> Export:
    """Ask for an export of the cohort; every patient in it is recorded as read by ``actor``."""
    with transaction.atomic():
        patient_ids = cohort_patient_ids(clinic_id=clinic_id, cohort=cohort)
        export = Export.objects.create(
            clinic_id=clinic_id,
            requested_by=actor.id,
            format=export_format,
            filters=cohort.params(),
            created_at=timezone.now(),
        )
        audit_read_many(
            actor=actor,
            patient_ids=patient_ids,
            resource=_EXPORT_READ_RESOURCE[ExportFormat(export_format)],
        )
        transaction.on_commit(lambda: _kick(export.id))
    return export


def _claim(export_id: uuid.UUID) -> Export | None:
    now = timezone.now()
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None:
            return None
        stale = (
            export.status == ExportStatus.RUNNING and export.created_at < now - EXPORT_STALE_AFTER
        )
        if export.status != ExportStatus.QUEUED and not stale:
            return None  # another worker has it, or it is finished
        export.status = ExportStatus.RUNNING
        export.done = 0
        export.save(update_fields=["status", "done"])
        ExportPart.objects.filter(export=export).delete()
    return export


def _csv_chunks(export: Export, cohort: CohortFilter) -> Iterator[tuple[bytes, int]]:
    courses = cohort.filter_courses(Course.objects.filter(clinic_id=export.clinic_id))
    total = Observation.objects.filter(course_ref__in=courses.values("id"), deleted=False).count()
    Export.objects.filter(pk=export.pk).update(total=total)
    lines: list[str] = []
    written = -1  # the header is not a score
    for line in exports.cohort_csv_rows(clinic_id=export.clinic_id, cohort=cohort):
        lines.append(line)
        written += 1
        if len(lines) >= CSV_LINES_PER_PART:
            yield "".join(lines).encode("utf-8"), written
            lines = []
    yield "".join(lines).encode("utf-8"), max(written, 0)


def _fhir_chunks(export: Export, cohort: CohortFilter) -> Iterator[tuple[bytes, int]]:
    patient_ids = sorted(cohort_patient_ids(clinic_id=export.clinic_id, cohort=cohort), key=str)
    Export.objects.filter(pk=export.pk).update(total=len(patient_ids))
    lines: list[str] = []
    for done, patient_id in enumerate(patient_ids, start=1):
        try:
            bundle = exports.patient_fhir_bundle(clinic_id=export.clinic_id, patient_id=patient_id)
        except Http404:
            continue  # moved to another clinic or erased since the export was asked for
        lines.append(json.dumps(bundle, separators=(",", ":")) + "\n")
        if len(lines) >= FHIR_PATIENTS_PER_PART:
            yield "".join(lines).encode("utf-8"), done
            lines = []
    yield "".join(lines).encode("utf-8"), len(patient_ids)


def export_build(*, export_id: uuid.UUID) -> None:
    """Build the export's file part by part, updating its progress after each part. Harmless to
    run twice: only the run that claims the queued export builds it."""
    export = _claim(export_id)
    if export is None:
        return
    cohort = cohort_from_filters(export.filters)
    chunks = _csv_chunks if export.format == ExportFormat.CSV else _fhir_chunks
    try:
        for seq, (data, done) in enumerate(chunks(export, cohort)):
            # Each part commits on its own, so the page polling the progress sees it move.
            with transaction.atomic():
                ExportPart.objects.create(export=export, seq=seq, data=data)
                Export.objects.filter(pk=export.pk).update(done=done)
    except Exception:
        logger.exception("export failed", extra={"export_id": str(export.pk)})
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, finished_at=timezone.now()
        )
        return
    Export.objects.filter(pk=export.pk).update(status=ExportStatus.DONE, finished_at=timezone.now())


def exports_tend() -> int:
    """Delete exports older than DASHBOARD_EXPORT_KEEP_HOURS (they hold patient data), and ask
    again for those that never reached a worker. Returns how many were deleted."""
    now = timezone.now()
    deleted, _ = Export.objects.filter(
        created_at__lt=now - timedelta(hours=settings.DASHBOARD_EXPORT_KEEP_HOURS)
    ).delete()
    waiting = Export.objects.filter(
        status=ExportStatus.QUEUED, created_at__lt=now - EXPORT_REQUEUE_AFTER
    ).values_list("pk", flat=True)
    for export_id in waiting:
        _kick(export_id)
    return deleted


def export_parts(export: Export) -> Iterator[bytes]:
    """The export's file, part after part, without holding it all in memory."""
    parts = ExportPart.objects.filter(export=export).order_by("seq").values_list("data", flat=True)
    for data in parts.iterator(chunk_size=4):
        yield bytes(data)


def export_download_record(*, actor: TokenUser, export: Export) -> None:
    audit_record(
        actor_id=actor.id,
        actor_roles=actor.roles,
        action="export.download",
        target_type="export",
        target_id=export.id,
    )
