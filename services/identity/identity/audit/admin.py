from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from identity.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "actor_id", "target_type", "target_id", "subject_patient_id")
    list_filter = ("action", "target_type")
    search_fields = ("=actor_id", "=target_id", "=subject_patient_id", "=request_id")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
