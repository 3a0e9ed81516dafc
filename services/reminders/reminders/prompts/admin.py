"""Prompts and deliveries, read-only: they are the record of what was planned and sent."""

from __future__ import annotations

from django.contrib import admin

from reminders.prompts.models import CoursePlan, Delivery, Prompt
from shared.readonly_admin import ReadOnlyModelAdmin


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("attempt", "status", "channel", "started_at", "finished_at", "delivered_at", "error")
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Prompt)
class PromptAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "patient_id",
        "kind",
        "instrument",
        "status",
        "intended_at",
        "sent_at",
        "answered_at",
    )
    list_filter = ("status", "kind", "instrument")
    search_fields = ("=id", "=patient__id", "=course_id")
    date_hierarchy = "intended_at"
    ordering = ("-intended_at",)
    inlines = [DeliveryInline]
    readonly_fields = [f.name for f in Prompt._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("prompt_id", "attempt", "status", "channel", "started_at", "finished_at")
    list_filter = ("status", "channel")
    search_fields = ("=prompt__id", "provider_message_id")
    ordering = ("-started_at",)
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(CoursePlan)
class CoursePlanAdmin(ReadOnlyModelAdmin):
    list_display = ("course_id", "patient_id", "template_id", "template_version", "needs_replan")
    list_filter = ("needs_replan",)
    search_fields = ("=course_id", "=patient__id")
    readonly_fields = [f.name for f in CoursePlan._meta.fields]
