"""The sign-in of identity's own web pages (its Django admin): the same credentials check and
brute-force lockout as the token endpoint."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from identity.accounts.models import User
from identity.authn.errors import InvalidCredentials, TooManyAttempts
from identity.authn.services import credentials_verify, login_record
from shared.observability.client_ip import client_ip


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = username if username is not None else kwargs.get("email")
        if not email or password is None:
            return None
        address = client_ip(request) if request is not None else ""
        try:
            user = credentials_verify(email=email, password=password, client_address=address)
        except TooManyAttempts:
            # PermissionDenied stops Django from trying any other backend.
            raise PermissionDenied from None
        except InvalidCredentials:
            return None
        login_record(user=user, channel="web")
        return user
