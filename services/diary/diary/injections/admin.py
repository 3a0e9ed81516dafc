from __future__ import annotations

from django.contrib import admin

from diary.injections.models import Injection
from shared.readonly_admin import ReadOnlyModelAdmin

# Diary rows change only through the services, which version them and publish their events.


@admin.register(Injection)
class InjectionAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "patient_id",
        "performed_at",
        "site",
        "number_in_course",
        "verified",
        "version",
        "server_seq",
        "deleted_at",
    )
    list_filter = ("verified", "site", "solution", "guidance", "protocol")
    search_fields = ("=id", "=patient__id", "=course_id")
    ordering = ("-server_seq",)
    fields = (
        "id",
        "patient",
        "performed_at",
        "site",
        "laterality",
        "solution",
        "dextrose_percent",
        "anaesthetic",
        "guidance",
        "protocol",
        "diagnosis",
        "co_treatments",
        "course_id",
        "number_in_course",
        "recorded_by",
        "recorded_by_role",
        "verified",
        "verified_by",
        "verified_at",
        "received_at",
        "updated_at",
        "version",
        "server_seq",
        "deleted_at",
        "deleted_by",
    )
    readonly_fields = fields
