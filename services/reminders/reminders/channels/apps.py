from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "reminders.channels"
    label = "channels"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Delivery channels"
