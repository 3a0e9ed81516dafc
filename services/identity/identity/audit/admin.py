from __future__ import annotations

from django.contrib import admin

from identity.audit.models import AuditEntry
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "action", "actor_id", "target_type", "target_id", "subject_patient_id")
    list_filter = ("action", "target_type")
    search_fields = ("=actor_id", "=target_id", "=subject_patient_id", "=request_id")
    date_hierarchy = "at"
