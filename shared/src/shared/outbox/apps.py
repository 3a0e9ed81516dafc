from django.apps import AppConfig
from django.core import checks


class OutboxConfig(AppConfig):
    name = "shared.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Events"

    def ready(self) -> None:
        from shared.events.checks import check_handlers_are_subscribed
        from shared.events.registry import autodiscover_handlers

        # Every process (web, worker, beat) knows the same handlers, and an import error in a
        # handlers module stops start-up instead of the first delivery.
        autodiscover_handlers()
        checks.register(check_handlers_are_subscribed)
