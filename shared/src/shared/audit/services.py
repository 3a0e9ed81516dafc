"""Writing to the audit trail. Entries hold ids and field names, never values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction

from shared.audit.context import audit_request_id
from shared.audit.models import AuditEntry
from shared.auth.principal import TokenUser

_ID_MAX = 64


def _target(value: uuid.UUID | str | None) -> str:
    return str(value)[:_ID_MAX] if value else ""


def audit_record(
    *,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    subject_patient_id: uuid.UUID | None = None,
    changed_fields: Iterable[str] = (),
    actor_roles: Iterable[str] = (),
    request_id: str | None = None,
) -> AuditEntry:
    """Append one entry; inside a transaction it commits or rolls back with the change.

    ``request_id`` defaults to the current request's (or task's) id.
    """
    with transaction.atomic():
        return AuditEntry.objects.create(
            actor_id=actor_id,
            actor_roles=sorted(set(actor_roles)),
            action=action,
            target_type=target_type,
            target_id=_target(target_id),
            subject_patient_id=subject_patient_id,
            request_id=audit_request_id() if request_id is None else request_id,
            changed_fields=sorted(set(changed_fields)),
        )


def audit_read(
    *,
    actor: TokenUser,
    patient_id: uuid.UUID,
    resource: str,
    object_id: uuid.UUID | str | None = None,
) -> AuditEntry:
    """Log that ``actor`` read a patient's ``resource`` (one object, or the list when
    ``object_id`` is None). Action ``<resource>.read``; e.g. resource "pain_entry"."""
    return audit_record(
        actor_id=actor.id,
        actor_roles=actor.roles,
        action=f"{resource}.read",
        target_type=resource,
        target_id=object_id,
        subject_patient_id=patient_id,
    )


def audit_read_many(
    *, actor: TokenUser, patient_ids: Iterable[uuid.UUID], resource: str
) -> list[AuditEntry]:
    """One read entry per patient, in one statement: a clinician's list that spans patients."""
    request_id = audit_request_id()
    roles = sorted(actor.roles)
    entries = [
        AuditEntry(
            actor_id=actor.id,
            actor_roles=roles,
            action=f"{resource}.read",
            target_type=resource,
            subject_patient_id=patient_id,
            request_id=request_id,
        )
        for patient_id in sorted(set(patient_ids))
    ]
    return AuditEntry.objects.bulk_create(entries)
