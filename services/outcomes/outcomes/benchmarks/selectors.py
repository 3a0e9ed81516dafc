from __future__ import annotations

from django.db.models import QuerySet

from outcomes.benchmarks.models import Benchmark


def benchmark_list() -> QuerySet[Benchmark]:
    return Benchmark.objects.all()
