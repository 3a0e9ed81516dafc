from __future__ import annotations

from django.contrib import admin

from diary.patients.models import Patient
from shared.readonly_admin import ReadOnlyModelAdmin

# Patients are kept from identity's events; editing one here would disagree with identity.


@admin.register(Patient)
class PatientAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "clinic_id", "timezone", "is_erased", "created_at")
    list_filter = ("is_erased",)
    search_fields = ("=id", "=clinic_id")
    readonly_fields = (
        "id",
        "clinic_id",
        "timezone",
        "is_erased",
        "erased_at",
        "profile_as_of",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
