from __future__ import annotations

from django.contrib import admin

from diary.entries.models import PainEntry
from shared.readonly_admin import ReadOnlyModelAdmin

# The note and the medication names are the patient's own words: the admin shows neither, in the
# list or on the page (the NSAID mark says what operations need to know).


@admin.register(PainEntry)
class PainEntryAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "patient_id",
        "occurred_at",
        "received_at",
        "nrs_now",
        "nsaid",
        "red_flag",
        "version",
        "server_seq",
        "deleted_at",
    )
    list_filter = ("red_flag", "nsaid")
    search_fields = ("=id", "=patient__id", "=prompt_id")
    ordering = ("-server_seq",)
    fields = (
        "id",
        "patient",
        "occurred_at",
        "timezone",
        "nrs_now",
        "nrs_worst_24h",
        "nrs_average_7d",
        "body_regions",
        "nsaid",
        "side_effects",
        "red_flag",
        "co_treatments",
        "prompt_id",
        "received_at",
        "updated_at",
        "version",
        "server_seq",
        "deleted_at",
        "deleted_by",
    )
    readonly_fields = fields
