from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "reminders.schedules"
    label = "schedules"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Schedule templates"
