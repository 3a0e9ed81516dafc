from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "outcomes.dashboard"
    label = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Clinician dashboard"

    def ready(self) -> None:
        # Connects the login and logout receivers that keep identity's tokens in the session.
        import shared.auth.backends  # noqa: F401
