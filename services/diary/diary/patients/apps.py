from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "diary.patients"
    label = "patients"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Patients"
