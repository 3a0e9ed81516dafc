from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "diary.common"
    label = "common"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Diary: common"

    def ready(self) -> None:
        from shared.auth.authentication import AccessTokenScheme

        # The OpenAPI schema names the bearer scheme the phone app signs its requests with.
        AccessTokenScheme.register()
