from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "diary.sync"
    label = "sync"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Diary: offline sync"
