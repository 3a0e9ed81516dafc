from django.apps import AppConfig


class EntriesConfig(AppConfig):
    name = "diary.entries"
    label = "entries"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Pain entries"
