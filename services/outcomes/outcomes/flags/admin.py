from __future__ import annotations

from django.contrib import admin

from outcomes.flags.models import Flag
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(Flag)
class FlagAdmin(ReadOnlyModelAdmin):
    list_display = ("raised_at", "kind", "severity", "status", "patient_id", "clinic_id")
    list_filter = ("kind", "severity", "status")
    search_fields = ("=patient_id", "=clinic_id", "key")
    date_hierarchy = "raised_at"
