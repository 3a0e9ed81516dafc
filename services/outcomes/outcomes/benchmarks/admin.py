from __future__ import annotations

from django.contrib import admin

from outcomes.benchmarks.models import Benchmark


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ("key", "endpoint_kind", "threshold", "horizon_months", "figure", "n")
    list_filter = ("endpoint_kind", "study")
    search_fields = ("key", "study", "citation")
    fieldsets = (
        (None, {"fields": ("key", "study", "citation", "source", "design", "n", "intervention")}),
        (
            "What is compared",
            {"fields": ("endpoint", "endpoint_kind", "threshold", "horizon_months")},
        ),
        ("Result", {"fields": ("figure", "ci_low", "ci_high", "responders", "notes")}),
    )
