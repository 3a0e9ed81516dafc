"""Writes of pain entries. Each write is one transaction with its event, and takes a new number of
the server sequence. Creates go through ``diary.common.creation``: one from the API
(``entry_create``), or a batch of the offline sync (``ENTRY``), with the same candidates, digest
and event."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from diary.common import sequence
from diary.common.creation import Candidate, Kind, Writer, log_one
from diary.common.errors import AlreadyDeleted, InvalidInput, VersionMismatch
from diary.common.idempotency import Written, canonical_digest, canonical_plain
from diary.common.prompts import PROMPT_TAKEN, prompt_ids_of_others
from diary.common.validation import error
from diary.entries.models import PainEntry
from diary.entries.validation import CLIENT_FIELDS, CORRECTION_RULES, entry_derived
from diary.patients.errors import PatientNotEnrolled
from diary.patients.models import Patient
from diary.patients.services import patient_for_write
from shared.auth.principal import TokenUser
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import event_publish

EVENT_LOGGED = "diary.entry.logged"
EVENT_CORRECTED = "diary.entry.corrected"
EVENT_DELETED = "diary.entry.deleted"


def entry_digest(cleaned: dict[str, Any], *, patient_id: uuid.UUID) -> str:
    """The fingerprint of a create: its client-supplied fields, cleaned, and its patient."""
    return canonical_digest(cleaned, CLIENT_FIELDS, owner=patient_id)


# How canonical_digest's json.dumps spells a value inside its document.
_spell = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _json(value: Any) -> str:
    """A value as ``canonical_digest`` spells it inside its document."""
    return _spell(canonical_plain(value))


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError
    return _spell(value)


def _number(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is not int:
        raise TypeError
    return str(value)


def entry_digests(items: Sequence[dict[str, Any]], *, patient_id: uuid.UUID) -> list[str]:
    """``entry_digest`` of many creates: the same canonical document, written out field by field
    in its sorted order (no intermediate document), and each code list or medication list the
    items share spelled once."""
    owner = json.dumps(str(patient_id))
    spelled: dict[int, str] = {}

    def shared(value: Any) -> str:
        text = spelled.get(id(value))
        if text is None:
            text = spelled[id(value)] = _json(value)
        return text

    digests = []
    for cleaned in items:
        try:
            occurred_at, prompt_id = cleaned["occurred_at"], cleaned["prompt_id"]
            if (
                type(cleaned["id"]) is not uuid.UUID
                or type(occurred_at) is not datetime
                or not (prompt_id is None or type(prompt_id) is uuid.UUID)
            ):
                raise TypeError
            document = "".join(
                (
                    '{"__owner":',
                    owner,
                    ',"body_regions":',
                    shared(cleaned["body_regions"]),
                    ',"co_treatments":',
                    shared(cleaned["co_treatments"]),
                    ',"id":"',
                    str(cleaned["id"]),
                    '","medications":',
                    shared(cleaned["medications"]),
                    ',"note":',
                    _text(cleaned["note"]),
                    ',"nrs_average_7d":',
                    _number(cleaned["nrs_average_7d"]),
                    ',"nrs_now":',
                    _number(cleaned["nrs_now"]),
                    ',"nrs_worst_24h":',
                    _number(cleaned["nrs_worst_24h"]),
                    ',"occurred_at":"',
                    occurred_at.isoformat(timespec="microseconds"),
                    '","prompt_id":',
                    "null" if prompt_id is None else '"' + str(prompt_id) + '"',
                    ',"side_effects":',
                    shared(cleaned["side_effects"]),
                    ',"timezone":',
                    _text(cleaned["timezone"]),
                    "}",
                )
            )
        except (KeyError, TypeError):
            digests.append(entry_digest(cleaned, patient_id=patient_id))
            continue
        digests.append(hashlib.sha256(document.encode("utf-8")).hexdigest())
    return digests


def _event_data(
    entry_id: uuid.UUID, patient_id: str, clinic_id: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The event's view of an entry: codes and scores only, never the note or medication names."""
    prompt_id = values["prompt_id"]
    return {
        "entry_id": str(entry_id),
        "patient_id": patient_id,
        "clinic_id": clinic_id,
        "recorded_at": utc_isoformat(values["occurred_at"]),
        "nrs": values["nrs_now"],
        "prompt_id": str(prompt_id) if prompt_id else None,
        "nsaid": values["nsaid"],
        "side_effects": list(values["side_effects"]),
        "red_flag": values["red_flag"],
        "co_treatments": list(values["co_treatments"]),
    }


_EVENT_FIELDS = (
    "occurred_at",
    "nrs_now",
    "prompt_id",
    "nsaid",
    "side_effects",
    "red_flag",
    "co_treatments",
)


def entry_event_data(entry: PainEntry, *, clinic_id: uuid.UUID) -> dict[str, Any]:
    """The event's view of a stored entry (see ``_event_data``)."""
    values = {name: getattr(entry, name) for name in _EVENT_FIELDS}
    return _event_data(entry.id, str(entry.patient_id), str(clinic_id), values)


# The client's fields a row stores besides its id.
_VALUE_FIELDS = tuple(name for name in CLIENT_FIELDS if name != "id")


def entry_candidates(items: Sequence[dict[str, Any]], patient_id: uuid.UUID) -> list[Candidate]:
    """Creates cleaned by ``validate_entry`` (or ``validate_entries``) as rows to insert: the
    client's fields, what the server derives from them, and the create's digest. A medication
    list or side-effect set shared by several items is derived once."""
    derived_from: dict[tuple[str, int], dict[str, Any]] = {}
    candidates = []
    for cleaned, digest in zip(items, entry_digests(items, patient_id=patient_id), strict=True):
        values = {name: cleaned[name] for name in _VALUE_FIELDS}
        for name in ("medications", "side_effects"):
            key = (name, id(values[name]))
            derived = derived_from.get(key)
            if derived is None:
                derived = derived_from[key] = entry_derived({name: values[name]})
            values.update(derived)
        candidates.append(Candidate(cleaned["id"], digest, values))
    return candidates


def entries_events_data(
    candidates: Sequence[Candidate], patient_id: uuid.UUID, clinic_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The ``diary.entry.logged`` data of created candidates (see ``_event_data``)."""
    patient, clinic = str(patient_id), str(clinic_id)
    return [
        _event_data(candidate.pk, patient, clinic, candidate.values) for candidate in candidates
    ]


ENTRY: Kind[PainEntry] = Kind(
    model=PainEntry,
    what="entry",
    candidates=entry_candidates,
    event_type=EVENT_LOGGED,
    events_data=entries_events_data,
)


def entry_create(*, user: TokenUser, values: dict[str, Any]) -> Written[PainEntry]:
    """The patient's new entry (cleaned by ``validate_entry``), in one transaction with its event;
    a repeat of the same create returns the stored entry with ``created`` False. A patient the
    diary does not know yet is created from the token. Raises ``IdConflict``, ``AlreadyDeleted``,
    ``InvalidInput`` (a prompt another patient answered), ``PatientErased`` or
    ``PatientNotEnrolled``."""
    if user.clinic_id is None:
        raise PatientNotEnrolled()
    writer = Writer(
        user.id,
        user.clinic_id,
        lambda: patient_for_write(user=user, timezone_name=values["timezone"]),
    )
    return log_one(ENTRY, values, writer=writer)


def entry_log(*, patient: Patient, values: dict[str, Any]) -> Written[PainEntry]:
    """``entry_create`` for a patient the diary knows."""
    return log_one(ENTRY, values, writer=Writer(patient.id, patient.clinic_id, lambda: patient))


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
