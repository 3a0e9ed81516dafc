from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "shared.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from shared.audit import context, triggers

        # Every connection, whenever opened, carries the caller's identity into the history
        # triggers; a connection opened before this point would not, so connect it first thing.
        connection_created.connect(context.connection_prepare, dispatch_uid="audit-context")
        post_migrate.connect(
            triggers.sqlite_triggers_refresh, sender=self, dispatch_uid="audit-sqlite-triggers"
        )
