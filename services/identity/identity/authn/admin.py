"""Service clients, read-only: they are created, rotated and deactivated with the
identity_service_client command, which shows the secret once and audits the change."""

from __future__ import annotations

from django.contrib import admin

from identity.authn.models import ServiceClient
from shared.readonly_admin import ReadOnlyModelAdmin


@admin.register(ServiceClient)
class ServiceClientAdmin(ReadOnlyModelAdmin):
    list_display = ("name", "id", "is_active", "secret_rotated_at", "last_token_at")
    list_filter = ("is_active",)
    fields = ("name", "id", "is_active", "created_at", "secret_rotated_at", "last_token_at")
    readonly_fields = fields
