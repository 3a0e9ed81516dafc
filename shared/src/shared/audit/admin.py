"""The audit trail and the row history, read-only, for whoever investigates who did what."""

from __future__ import annotations

from django.contrib import admin

from shared.audit.models import AuditEntry, HistoryRecord
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "action", "actor_id", "target_type", "target_id", "subject_patient_id")
    list_filter = ("action", "target_type")
    search_fields = ("=actor_id", "=target_id", "=subject_patient_id", "=request_id")
    date_hierarchy = "at"


@admin.register(HistoryRecord)
class HistoryRecordAdmin(ReadOnlyModelAdmin):
    # The list never shows data: it may hold health information, and the list is for finding.
    list_display = ("at", "table_name", "row_pk", "operation", "actor_id", "request_id")
    list_filter = ("table_name", "operation")
    search_fields = ("=row_pk", "=actor_id", "=request_id")
    date_hierarchy = "at"
    ordering = ("-id",)
