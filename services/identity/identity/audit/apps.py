from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "identity.audit"
    label = "audit"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Audit trail"
