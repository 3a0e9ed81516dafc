from __future__ import annotations

from django.contrib import admin

from outcomes.readmodel.models import Course, ResyncRun
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(Course)
class CourseAdmin(ReadOnlyModelAdmin):
    list_display = ("course_id", "clinic_id", "first_injection_date", "injection_count", "protocol")
    list_filter = ("protocol", "site", "solution")
    search_fields = ("=course_id", "=patient_id", "=clinic_id")


@admin.register(ResyncRun)
class ResyncRunAdmin(ReadOnlyModelAdmin):
    list_display = ("started_at", "finished_at", "records", "last_seq", "succeeded")
