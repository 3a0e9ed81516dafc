from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "outcomes.analytics"
    label = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Analysis"

    def ready(self) -> None:
        from shared.auth.authentication import AccessTokenScheme

        # The OpenAPI schema names the bearer scheme the dashboard and the phone sign with.
        AccessTokenScheme.register()
