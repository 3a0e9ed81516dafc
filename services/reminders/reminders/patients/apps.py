from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "reminders.patients"
    label = "patients"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Patients, injections and devices"
