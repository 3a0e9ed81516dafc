from __future__ import annotations

from django.contrib import admin

from reminders.channels.models import RecordedSend
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(RecordedSend)
class RecordedSendAdmin(ReadOnlyModelAdmin):
    list_display = ("idempotency_key", "channel", "worker_pid", "recorded_at")
    list_filter = ("channel",)
    search_fields = ("=prompt_id", "idempotency_key")
    readonly_fields = [f.name for f in RecordedSend._meta.fields]
