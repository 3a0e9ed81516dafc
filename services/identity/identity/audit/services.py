from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction

from identity.audit.models import AuditEntry
from shared.observability.context import current_request_id


def audit_record(
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    subject_patient_id: uuid.UUID | None = None,
    changed_fields: Iterable[str] = (),
) -> AuditEntry:
    """Append one entry; inside a transaction it commits or rolls back with the change."""
    with transaction.atomic():
        return AuditEntry.objects.create(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id else "",
            subject_patient_id=subject_patient_id,
            request_id=current_request_id(),
            changed_fields=sorted(set(changed_fields)),
        )
