from __future__ import annotations

import uuid

from identity.authn.models import ServiceClient


def service_client_is_active(client_id: uuid.UUID) -> bool:
    return ServiceClient.objects.filter(pk=client_id, is_active=True).exists()
