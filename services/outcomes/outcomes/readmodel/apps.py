from django.apps import AppConfig


class ReadModelConfig(AppConfig):
    name = "outcomes.readmodel"
    label = "readmodel"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Read model (patients, injections, observations)"
