"""One login for web pages and every service's Django admin: credentials are checked by identity.

A successful login keeps a thin local user row (named by the identity user id) so Django's
session and admin machinery work; the password never touches this service's database.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User
from django.http import HttpRequest

from shared.auth.principal import Role
from shared.auth.tokens import InvalidToken, decode_access_token
from shared.observability.client_ip import client_ip

logger = logging.getLogger(__name__)

SESSION_PRINCIPAL_KEY = "identity_principal"
TOKEN_PATH = "/api/identity/v1/auth/token/"  # noqa: S105 - a URL path


class IdentityBackend(BaseBackend):
    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        username, password = credentials.get("username"), credentials.get("password")
        if not username or not password:
            return None
        headers = {"Accept": "application/json"}
        if request is not None:
            headers["X-Forwarded-For"] = client_ip(request)
        try:
            response = requests.post(
                settings.IDENTITY_URL.rstrip("/") + TOKEN_PATH,
                json={"email": username, "password": password},
                headers=headers,
                timeout=5,
            )
        except requests.RequestException as exc:
            logger.error("identity unreachable for web login", extra={"error": type(exc).__name__})
            return None
        if response.status_code != 200:
            return None
        try:
            principal = decode_access_token(response.json()["access"])
        except (InvalidToken, KeyError, ValueError):
            logger.error("identity returned an unusable token for web login")
            return None
        user_model = get_user_model()
        user, _ = user_model.objects.update_or_create(
            username=str(principal.id),
            defaults={
                "email": principal.email,
                "is_staff": principal.has_role(Role.SYSTEM_ADMIN, Role.CLINIC_ADMIN),
                "is_superuser": principal.has_role(Role.SYSTEM_ADMIN),
                "is_active": True,
            },
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        if request is not None and hasattr(request, "session"):
            request.session[SESSION_PRINCIPAL_KEY] = {
                "id": str(principal.id),
                "roles": sorted(principal.roles),
                "clinic_id": str(principal.clinic_id) if principal.clinic_id else None,
                "email": principal.email,
            }
        return user

    def get_user(self, user_id: Any) -> User | None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if user.is_active else None
