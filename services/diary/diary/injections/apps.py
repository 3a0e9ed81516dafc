from django.apps import AppConfig


class InjectionsConfig(AppConfig):
    name = "diary.injections"
    label = "injections"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Injections"
