"""The read-access log: who read which patient's diary data.

Every read of a patient's diary by someone other than the patient goes through ``record_read``,
so the whole service has one place that writes to the shared, append-only audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from shared.audit.services import audit_read, audit_read_many
from shared.auth.principal import TokenUser

RESOURCE_PREFIX = "diary."


def record_read(
    actor: TokenUser,
    patient_id: uuid.UUID,
    resource: str,
    object_id: uuid.UUID | None = None,
) -> None:
    """Record that ``actor`` read ``resource`` (e.g. "entries") of ``patient_id``.

    Ids only: what was read is never repeated here. A patient reading their own diary is not a
    disclosure and is not recorded.
    """
    if actor.id == patient_id:
        return
    audit_read(
        actor=actor, patient_id=patient_id, resource=RESOURCE_PREFIX + resource, object_id=object_id
    )


def record_list_read(actor: TokenUser, rows: Iterable[Any], resource: str) -> None:
    """Record a page of a list: one read per patient whose rows are on it, in one insert."""
    patient_ids = [pid for pid in dict.fromkeys(row.patient_id for row in rows) if pid != actor.id]
    if patient_ids:
        audit_read_many(actor=actor, patient_ids=patient_ids, resource=RESOURCE_PREFIX + resource)
