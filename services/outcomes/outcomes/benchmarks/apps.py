from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "outcomes.benchmarks"
    label = "benchmarks"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Published benchmarks"
