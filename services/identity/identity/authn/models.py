from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class RefreshToken(models.Model):
    """One refresh token of a sign-in. Every refresh spends the token and adds a successor of the
    same family; spending a token twice is the sign of a stolen copy and ends the family.

    Only the SHA-256 of the token is stored: the database alone cannot be used to sign in.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    family = models.UUIDField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="authn_refresh_expires_idx")]

    def __str__(self) -> str:
        return f"refresh token {self.id} (family {self.family})"


class ServiceClient(models.Model):
    """A service that calls other services over HTTP (e.g. outcomes reading diary's export). It
    trades its id and secret for short-lived access tokens with the role "service".

    Only the SHA-256 of the secret is stored. The secret is 256 random bits, so a fast hash is
    enough: there is nothing to guess, unlike a password.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(max_length=50, unique=True)
    secret_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    secret_rotated_at = models.DateTimeField()
    last_token_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"service client {self.name}"
