"""The outbox and the processed events, read-only, for whoever investigates a delivery."""

from __future__ import annotations

from django.contrib import admin

from shared.outbox.models import OutboxEvent, ProcessedEvent
from shared.readonly_admin import ReadOnlyModelAdmin

# Events are facts: editing one here would make the outbox disagree with what was sent.


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
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
class ProcessedEventAdmin(ReadOnlyModelAdmin):
    list_display = ("event_id", "type", "processed_at")
    list_filter = ("type",)
    search_fields = ("=event_id",)
    ordering = ("-processed_at",)
    readonly_fields = ("event_id", "type", "processed_at")
