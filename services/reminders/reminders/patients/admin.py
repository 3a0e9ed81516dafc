"""Patients and injections as reminders knows them, read-only: they are copies of identity's and
diary's records. Devices are listed without their tokens."""

from __future__ import annotations

from django.contrib import admin

from reminders.patients.models import Device, Injection, Patient
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(Patient)
class PatientAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "clinic_id", "timezone", "active", "deactivated_at", "erased_at")
    list_filter = ("active",)
    search_fields = ("=id", "=clinic_id")
    readonly_fields = (
        "id",
        "clinic_id",
        "timezone",
        "locale",
        "active",
        "deactivated_at",
        "erased_at",
        "updated_at",
    )


@admin.register(Injection)
class InjectionAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "patient_id", "course_id", "injected_at", "protocol", "deleted")
    list_filter = ("deleted",)
    search_fields = ("=id", "=patient__id", "=course_id")
    readonly_fields = (
        "id",
        "patient",
        "course_id",
        "injected_at",
        "local_date",
        "protocol",
        "deleted",
        "updated_at",
    )


@admin.register(Device)
class DeviceAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "patient_id", "platform", "created_at", "registered_at")
    list_filter = ("platform",)
    search_fields = ("=id", "=patient__id")
    fields = ("id", "patient", "platform", "created_at", "registered_at")
    readonly_fields = fields
