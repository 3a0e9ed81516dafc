from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "identity.authn"
    label = "authn"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Sign-in and tokens"

    def ready(self) -> None:
        # Registers the bearer scheme with drf-spectacular.
        from identity.authn import schema  # noqa: F401
