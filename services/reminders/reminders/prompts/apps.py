from django.apps import AppConfig


class PromptsConfig(AppConfig):
    name = "reminders.prompts"
    label = "prompts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Prompts and deliveries"

    def ready(self) -> None:
        from shared.auth.authentication import AccessTokenScheme

        # The OpenAPI schema names the bearer-token scheme the phone and the dashboard use.
        AccessTokenScheme.register()
