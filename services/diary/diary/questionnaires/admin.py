from __future__ import annotations

from django.contrib import admin

from diary.questionnaires.models import QuestionnaireResponse
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(QuestionnaireResponse)
class QuestionnaireResponseAdmin(ReadOnlyModelAdmin):
    list_display = (
        "id",
        "patient_id",
        "instrument",
        "instrument_version",
        "score",
        "occurred_at",
        "server_seq",
    )
    list_filter = ("instrument",)
    search_fields = ("=id", "=patient__id", "=prompt_id")
    ordering = ("-server_seq",)
    fields = (
        "id",
        "patient",
        "instrument",
        "instrument_version",
        "answers",
        "score",
        "occurred_at",
        "timezone",
        "prompt_id",
        "received_at",
        "updated_at",
        "server_seq",
    )
    readonly_fields = fields
