"""The outbox and the processed events, read-only, for whoever investigates a delivery."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from shared.outbox.models import OutboxEvent, ProcessedEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    # Events are facts: editing one here would make the outbox disagree with what was sent.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    # The list never shows data: it is health information, and the list is for finding a row.
    list_display = ("type", "subject", "created_at", "published_at", "attempts")
    list_filter = ("type", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("=id", "=subject")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = (
        "id",
        "type",
        "version",
        "producer",
        "subject",
        "occurred_at",
        "created_at",
        "published_at",
        "attempts",
        "last_error",
        "data",
    )
    readonly_fields = fields


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "processed_at")
    list_filter = ("type",)
    search_fields = ("=event_id",)
    ordering = ("-processed_at",)
    readonly_fields = ("event_id", "type", "processed_at")
