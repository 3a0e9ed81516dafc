"""Celery tasks of the dashboard: thin wrappers around the export services."""

from __future__ import annotations

import uuid

from celery import shared_task

from outcomes.dashboard.services import (
    EXPORT_TASK,
    EXPORTS_TEND_TASK,
    export_build,
    exports_tend,
)


# A big clinic's FHIR export validates every patient's Bundle: it may run longer than the usual
# task limit. Progress is saved part by part; a run cut short is built again by exports_tend.
@shared_task(name=EXPORT_TASK, ignore_result=True, time_limit=3600, soft_time_limit=3500)
def build_export(export_id: str) -> None:
    export_build(export_id=uuid.UUID(export_id))


@shared_task(name=EXPORTS_TEND_TASK, ignore_result=True)
def tend_exports() -> int:
    return exports_tend()
