"""Writes of pain entries. Each write is one transaction with its event, and takes a new number of
the server sequence. The offline sync calls ``entries_log`` with a whole batch."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from diary.common import sequence
from diary.common.creation import Outcome, create_idempotent, written_or_raise
from diary.common.errors import AlreadyDeleted, InvalidInput, VersionMismatch
from diary.common.idempotency import Written, canonical_digest
from diary.common.prompts import PROMPT_TAKEN, prompt_ids_of_others
from diary.common.validation import error
from diary.entries.models import PainEntry
from diary.entries.validation import CLIENT_FIELDS, CORRECTION_RULES, entry_derived
from diary.patients.models import Patient
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import event_publish

EVENT_LOGGED = "diary.entry.logged"
EVENT_CORRECTED = "diary.entry.corrected"
EVENT_DELETED = "diary.entry.deleted"


def entry_digest(cleaned: dict[str, Any], *, patient_id: uuid.UUID) -> str:
    """The fingerprint of a create: its client-supplied fields, cleaned, and its patient."""
    return canonical_digest(cleaned, CLIENT_FIELDS, owner=patient_id)


def entry_event_data(entry: PainEntry, *, clinic_id: uuid.UUID) -> dict[str, Any]:
    """The event's view of an entry: codes and scores only, never the note or medication names."""
    return {
        "entry_id": str(entry.id),
        "patient_id": str(entry.patient_id),
        "clinic_id": str(clinic_id),
        "recorded_at": utc_isoformat(entry.occurred_at),
        "nrs": entry.nrs_now,
        "prompt_id": str(entry.prompt_id) if entry.prompt_id else None,
        "nsaid": entry.nsaid,
        "side_effects": list(entry.side_effects),
        "red_flag": entry.red_flag,
        "co_treatments": list(entry.co_treatments),
    }


def entry_candidate(patient: Patient, cleaned: dict[str, Any]) -> PainEntry:
    values = {name: cleaned[name] for name in CLIENT_FIELDS}
    values.update(entry_derived(values))
    return PainEntry(
        patient=patient, **values, create_digest=entry_digest(cleaned, patient_id=patient.id)
    )


@transaction.atomic
def entries_log(*, patient: Patient, items: list[dict[str, Any]]) -> list[Outcome[PainEntry]]:
    """Store a batch of the patient's new entries, each cleaned by ``validate_entry``.

    One outcome per item, in order (see ``diary.common.creation.Outcome``): an entry already
    stored with the same content is a duplicate and writes nothing; the id with other content is
    a conflict; a prompt another patient answered makes the item invalid. One event per created
    entry, in this transaction.
    """
    now = timezone.now()
    taken = prompt_ids_of_others(patient.id, (item.get("prompt_id") for item in items))
    accepted: list[PainEntry] = []
    outcomes: list[Outcome[PainEntry] | None] = []
    for item in items:
        if item.get("prompt_id") in taken:
            outcomes.append(
                Outcome(item["id"], "invalid", errors=[error("prompt_id", PROMPT_TAKEN)])
            )
        else:
            accepted.append(entry_candidate(patient, item))
            outcomes.append(None)
    created = iter(create_idempotent(PainEntry, accepted, now=now))
    result = [outcome if outcome is not None else next(created) for outcome in outcomes]
    for outcome in result:
        if outcome.status == "created" and outcome.obj is not None:
            event_publish(
                type=EVENT_LOGGED,
                subject=patient.id,
                data=entry_event_data(outcome.obj, clinic_id=patient.clinic_id),
            )
    return result


def entry_log(*, patient: Patient, values: dict[str, Any]) -> Written[PainEntry]:
    """Store one new entry (cleaned by ``validate_entry``); a repeat of the same create returns the
    stored entry with ``created`` False. Raises ``IdConflict``, ``AlreadyDeleted`` or
    ``InvalidInput`` where ``entries_log`` reports conflict, deleted or invalid."""
    outcome = entries_log(patient=patient, items=[values])[0]
    return written_or_raise(outcome, "entry")


def _locked(entry: PainEntry, expected_version: int | None) -> PainEntry:
    locked = PainEntry.objects.select_for_update().select_related("patient").get(pk=entry.pk)
    if locked.is_deleted:
        raise AlreadyDeleted("entry")
    if expected_version is not None and locked.version != expected_version:
        raise VersionMismatch(locked.version)
    return locked


@transaction.atomic
def entry_correct(*, entry: PainEntry, changes: dict[str, Any], expected_version: int) -> PainEntry:
    """Apply ``changes`` (cleaned by ``validate_entry(partial=True)``) to the entry at
    ``expected_version``; a stale version raises ``VersionMismatch``.

    The NSAID and red-flag marks are computed again. Nothing changed: the entry is returned as it
    is, with no new version and no event. Otherwise the version goes up by one, the entry takes a
    new server sequence number, and ``diary.entry.corrected`` names the event fields that changed.
    """
    locked = _locked(entry, expected_version)
    patient = locked.patient
    prompt_id = changes.get("prompt_id")
    if prompt_id is not None and prompt_id in prompt_ids_of_others(patient.id, [prompt_id]):
        raise InvalidInput([error("prompt_id", PROMPT_TAKEN)])
    values = {name: getattr(locked, name) for name in CORRECTION_RULES}
    values["medications"] = [{"name": m["name"], "dose": m.get("dose")} for m in locked.medications]
    values.update(changes)
    values.update(entry_derived(values))
    changed = [name for name, value in values.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    before = entry_event_data(locked, clinic_id=patient.clinic_id)
    for name in changed:
        setattr(locked, name, values[name])
    locked.version += 1
    locked.server_seq = sequence.next_value()
    locked.updated_at = timezone.now()
    locked.save()
    after = entry_event_data(locked, clinic_id=patient.clinic_id)
    event_publish(
        type=EVENT_CORRECTED,
        subject=patient.id,
        data={**after, "changed": [name for name in after if after[name] != before[name]]},
    )
    return locked


@transaction.atomic
def entry_delete(
    *, entry: PainEntry, actor_id: uuid.UUID, expected_version: int | None = None
) -> PainEntry:
    """Soft-delete: the row stays (with who deleted it and when) and leaves every list and read.
    With ``expected_version`` a stale version raises ``VersionMismatch``."""
    locked = _locked(entry, expected_version)
    now = timezone.now()
    locked.deleted_at = now
    locked.deleted_by = actor_id
    locked.version += 1
    locked.server_seq = sequence.next_value()
    locked.updated_at = now
    locked.save()
    event_publish(
        type=EVENT_DELETED,
        subject=locked.patient_id,
        data={
            "entry_id": str(locked.id),
            "patient_id": str(locked.patient_id),
            "clinic_id": str(locked.patient.clinic_id),
        },
    )
    return locked
