"""Service clients: the client-credentials grant that gives one service a token to call another.

A token carries sub = the client's id, roles ["service"], clinic null and "svc" = the client's
name; it is an access token like any other (same key, lifetime and checks), with no refresh
token: a service simply asks again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from identity.authn import lockout
from identity.authn.errors import InvalidClientCredentials, TooManyAttempts
from identity.authn.keys import signing_key
from identity.authn.models import ServiceClient
from identity.authn.tokens import access_token_encode
from shared.audit.services import audit_record
from shared.auth.principal import Role

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,49}$")


@dataclass(frozen=True)
class ServiceToken:
    access: str
    expires_in: int


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def service_client_rotate(*, name: str) -> tuple[ServiceClient, str]:
    """Create the client, or give it a new secret (the old one stops working at once).

    Returns the client and its secret, which is stored nowhere and so can be shown only now.
    """
    if not _NAME.match(name):
        raise ValueError("a service client's name is lower-case letters, digits and '-'")
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    client, created = ServiceClient.objects.select_for_update().get_or_create(
        name=name, defaults={"secret_hash": _secret_hash(secret), "secret_rotated_at": now}
    )
    if not created:
        client.secret_hash = _secret_hash(secret)
        client.secret_rotated_at = now
        client.is_active = True
        client.save(update_fields=["secret_hash", "secret_rotated_at", "is_active"])
    audit_record(
        actor_id=None,
        action="service_client.create" if created else "service_client.rotate",
        target_type="service_client",
        target_id=client.id,
        changed_fields=() if created else ("secret_hash", "secret_rotated_at", "is_active"),
    )
    return client, secret


@transaction.atomic
def service_client_deactivate(*, name: str) -> ServiceClient:
    client = ServiceClient.objects.select_for_update().get(name=name)
    client.is_active = False
    client.save(update_fields=["is_active"])
    audit_record(
        actor_id=None,
        action="service_client.deactivate",
        target_type="service_client",
        target_id=client.id,
        changed_fields=("is_active",),
    )
    return client


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _client_verify(*, client_id: str, client_secret: str) -> ServiceClient | None:
    pk = _as_uuid(client_id)
    if pk is None:
        return None
    client = ServiceClient.objects.filter(pk=pk).first()
    # Compare against something even for an unknown id, so timing tells nothing.
    expected = client.secret_hash if client else _secret_hash(secrets.token_urlsafe(32))
    valid = hmac.compare_digest(expected, _secret_hash(client_secret))
    return client if client is not None and valid and client.is_active else None


def service_token_issue(*, client_id: str, client_secret: str, client_address: str) -> ServiceToken:
    """An access token for a service client, under the same brute-force limits as sign-ins."""
    wait = lockout.service_token_retry_after(client_id=client_id, address=client_address)
    if wait:
        raise TooManyAttempts("Too many failed attempts; try again later.", wait=wait)
    client = _client_verify(client_id=client_id, client_secret=client_secret)
    if client is None:
        if lockout.service_token_failure_record(client_id=client_id, address=client_address):
            logger.warning("service token requests locked after repeated failures")
            audit_record(
                actor_id=None,
                action="auth.service_token.lockout",
                target_type="service_client",
                target_id=_as_uuid(client_id),
            )
        else:
            logger.info("service token refused")
        raise InvalidClientCredentials
    lockout.service_token_success_record(client_id=client_id, address=client_address)
    key = signing_key()
    now = timezone.now()
    with transaction.atomic():
        ServiceClient.objects.filter(pk=client.pk).update(last_token_at=now)
        audit_record(
            actor_id=client.id,
            actor_roles=(Role.SERVICE,),
            action="auth.service_token",
            target_type="service_client",
            target_id=client.id,
        )
    access = access_token_encode(
        key=key,
        user_id=client.id,
        email="",
        roles=[Role.SERVICE],
        clinic_id=None,
        issued_at=now,
        service_name=client.name,
    )
    return ServiceToken(access=access, expires_in=settings.ACCESS_TOKEN_SECONDS)
