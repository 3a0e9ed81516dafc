from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "outcomes.flags"
    label = "flags"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Flags for clinicians"
