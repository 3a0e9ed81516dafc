from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "diary.export"
    label = "export"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Diary: export for other services"
