"""Every event type the services exchange: version, producer, subscribers and ``data`` fields.

This module is the contract between services. ``event_publish`` refuses an event it does not
describe, the consumer checks every envelope against it, and docs/events.md is generated from it
(``python -m shared.events.docs docs/events.md``). Producers' tests check what they publish with
``validate_envelope``.

Rules of change: adding an optional field keeps the version; renaming or removing a field, changing
its type or meaning, or making it required is a new version, and consumers must understand the new
version before any producer sends it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

from shared.vocabulary import Sex

Envelope = dict[str, Any]
FieldType = Literal["uuid", "string", "integer", "number", "boolean", "datetime", "array"]

IDENTITY = "identity"
DIARY = "diary"
REMINDERS = "reminders"
OUTCOMES = "outcomes"
SERVICES = (IDENTITY, DIARY, REMINDERS, OUTCOMES)

ENVELOPE_KEYS = ("id", "type", "version", "occurred_at", "producer", "subject", "data")


class InvalidEvent(ValueError):
    """An event that does not match the catalogue. Messages name fields, never their values."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UnknownEventType(InvalidEvent):
    pass


@dataclass(frozen=True)
class Field:
    """One field of an event's ``data``: a small subset of JSON Schema, enough to catch mistakes."""

    type: FieldType
    description: str = ""
    nullable: bool = False
    # An optional field may be absent; a required one is always present, even when nullable.
    required: bool = True
    choices: tuple[str, ...] = ()
    items: FieldType | None = None
    # An array whose elements may be null (e.g. skipped questionnaire sections).
    nullable_items: bool = False
    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        if self.choices:
            text = "one of " + ", ".join(f'"{choice}"' for choice in self.choices)
        elif self.type == "array":
            text = f"array of {self.items}"
            if self.nullable_items:
                text += " (elements may be null)"
        else:
            text = self.type
        if self.minimum is not None and self.maximum is not None:
            text += f" {self.minimum}..{self.maximum}"
        elif self.minimum is not None:
            text += f" >= {self.minimum}"
        if self.nullable:
            text += " or null"
        return text

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.type == "array":
            if not isinstance(value, list):
                return False
            item = Field(self.items or "string", nullable=self.nullable_items)
            return all(item.accepts(element) for element in value)
        if not _is_type(self.type, value):
            return False
        if self.choices and value not in self.choices:
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    producer: str
    subscribers: tuple[str, ...]
    description: str
    data: Mapping[str, Field]


def _is_type(kind: FieldType, value: Any) -> bool:
    if kind == "uuid":
        return isinstance(value, str) and _is_canonical_uuid(value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "datetime":
        return isinstance(value, str) and _is_utc_timestamp(value)
    return False


def _is_canonical_uuid(value: str) -> bool:
    # Consumers key rows on these strings, so one spelling only: lower case with hyphens.
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _is_utc_timestamp(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


def utc_isoformat(value: datetime) -> str:
    """The spelling of a timestamp in events: ISO-8601 in UTC with a ``Z``."""
    if value.tzinfo is None:
        raise ValueError("event timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Fields several events share --------------------------------------------------------------

_PATIENT = Field("uuid", "The patient; always equal to the envelope's subject.")
_CLINIC = Field("uuid", "The patient's clinic.")
_CHANGED = Field("array", "Names of the fields of `data` this change altered.", items="string")
_SEX = Field("string", "Sex recorded at enrolment.", choices=tuple(Sex.values))
_BIRTH_YEAR = Field("integer", "Year of birth, for age bands.", nullable=True, minimum=1900)
_TIMEZONE = Field("string", "IANA time zone name, e.g. Europe/London.")
_LOCALE = Field("string", "BCP 47 language tag, e.g. en-GB.")
_PROMPT = Field("uuid", "The reminder prompt this answers, if any.", nullable=True)

_PATIENT_PROFILE = {
    "patient_id": _PATIENT,
    "clinic_id": _CLINIC,
    "timezone": _TIMEZONE,
    "locale": _LOCALE,
    "sex": _SEX,
    "birth_year": _BIRTH_YEAR,
}

_INJECTION = {
    "injection_id": Field("uuid", "The injection."),
    "patient_id": _PATIENT,
    "clinic_id": _CLINIC,
    "course_id": Field(
        "uuid", "The course of injections it belongs to; its first injection anchors long horizons."
    ),
    "injected_at": Field("datetime", "When the injection was given."),
    "site": Field("string", "Target, e.g. sij_intra_articular, iliolumbar.", nullable=True),
    "laterality": Field("string", "left, right or bilateral.", nullable=True),
    "solution": Field("string", "Injectate, e.g. dextrose_15, dextrose_25, prp.", nullable=True),
    "guidance": Field("string", "fluoroscopy, ct, ultrasound or landmark.", nullable=True),
    "protocol": Field("string", "Protocol template followed, if any.", nullable=True),
    "diagnosis": Field("string", "Diagnosis category the injection treats.", nullable=True),
    "co_treatments": Field(
        "array",
        "Co-treatments under way, e.g. physiotherapy, sij_belt.",
        items="string",
        required=False,
    ),
}

_ENTRY = {
    "entry_id": Field("uuid", "The diary entry (generated by the phone for offline entries)."),
    "patient_id": _PATIENT,
    "clinic_id": _CLINIC,
    "recorded_at": Field("datetime", "The moment the entry describes."),
    "nrs": Field(
        "integer",
        "Pain now, 0 no pain to 10 worst; null if not scored.",
        nullable=True,
        minimum=0,
        maximum=10,
    ),
    "prompt_id": _PROMPT,
    "nsaid": Field("boolean", "An anti-inflammatory (NSAID) was taken."),
    "side_effects": Field("array", "Side-effect codes, e.g. bruising, fever.", items="string"),
    "red_flag": Field(
        "boolean",
        "A side effect needs the clinician now (fever, spreading redness, discharge, ...).",
    ),
    "co_treatments": Field("array", "Co-treatment codes logged.", items="string", required=False),
}

_PROMPT_REF = {
    "prompt_id": Field("uuid", "The prompt."),
    "patient_id": _PATIENT,
    "clinic_id": _CLINIC,
}


def _event(
    producer: str,
    local_name: str,
    *,
    subscribers: tuple[str, ...],
    description: str,
    data: Mapping[str, Field],
    version: int = 1,
) -> EventType:
    # The producer is the first part of the name by construction, so the two can never disagree.
    return EventType(
        name=f"{producer}.{local_name}",
        version=version,
        producer=producer,
        subscribers=subscribers,
        description=description,
        data=dict(data),
    )


_EVERYONE_ELSE = (DIARY, REMINDERS, OUTCOMES)
_DIARY_READERS = (REMINDERS, OUTCOMES)

EVENT_TYPES: tuple[EventType, ...] = (
    _event(
        IDENTITY,
        "patient.enrolled",
        subscribers=_EVERYONE_ELSE,
        description="A patient accepted their invitation and joined a clinic.",
        data={**_PATIENT_PROFILE, "enrolled_at": Field("datetime", "When the patient enrolled.")},
    ),
    _event(
        IDENTITY,
        "patient.updated",
        subscribers=_EVERYONE_ELSE,
        description="The patient's profile changed (time zone, clinic, ...): the full profile.",
        data={**_PATIENT_PROFILE, "changed": _CHANGED},
    ),
    _event(
        IDENTITY,
        "patient.deactivated",
        subscribers=(REMINDERS,),
        description=(
            "The patient's account was deactivated: they cannot sign in any more and are sent "
            "no more prompts. Their data stays (unlike erasure)."
        ),
        data={
            "patient_id": _PATIENT,
            "clinic_id": _CLINIC,
            "deactivated_at": Field("datetime", "When the account was deactivated."),
        },
    ),
    _event(
        IDENTITY,
        "patient.reactivated",
        subscribers=(REMINDERS,),
        description=(
            "A deactivated patient's account was reactivated: they may sign in again and are "
            "sent the prompts of their schedule still to come."
        ),
        data={
            "patient_id": _PATIENT,
            "clinic_id": _CLINIC,
            "reactivated_at": Field("datetime", "When the account was reactivated."),
        },
    ),
    _event(
        IDENTITY,
        "patient.erased",
        subscribers=_EVERYONE_ELSE,
        description="The patient's personal data was erased; every service forgets the patient.",
        data={"patient_id": _PATIENT, "clinic_id": _CLINIC},
    ),
    _event(
        DIARY,
        "injection.recorded",
        subscribers=_DIARY_READERS,
        description="An injection was recorded; reminders plans prompts from it.",
        data=_INJECTION,
    ),
    _event(
        DIARY,
        "injection.corrected",
        subscribers=_DIARY_READERS,
        description="A recorded injection was corrected: the full corrected injection.",
        data={**_INJECTION, "changed": _CHANGED},
    ),
    _event(
        DIARY,
        "injection.deleted",
        subscribers=_DIARY_READERS,
        description="A recorded injection was deleted (entered by mistake).",
        data={
            "injection_id": _INJECTION["injection_id"],
            "patient_id": _PATIENT,
            "clinic_id": _CLINIC,
            "course_id": _INJECTION["course_id"],
        },
    ),
    _event(
        DIARY,
        "entry.logged",
        subscribers=_DIARY_READERS,
        description="The patient logged a diary entry: pain score, medication, side effects.",
        data=_ENTRY,
    ),
    _event(
        DIARY,
        "entry.corrected",
        subscribers=_DIARY_READERS,
        description="A diary entry was corrected: the full corrected entry.",
        data={**_ENTRY, "changed": _CHANGED},
    ),
    _event(
        DIARY,
        "entry.deleted",
        subscribers=_DIARY_READERS,
        description="A diary entry was deleted.",
        data={"entry_id": _ENTRY["entry_id"], "patient_id": _PATIENT, "clinic_id": _CLINIC},
    ),
    _event(
        DIARY,
        "questionnaire.completed",
        subscribers=_DIARY_READERS,
        description="The patient completed a questionnaire (NRS, ODI, PGIC or RMDQ).",
        data={
            "response_id": Field("uuid", "The questionnaire response."),
            "patient_id": _PATIENT,
            "clinic_id": _CLINIC,
            "instrument": Field(
                "string", "The questionnaire.", choices=("nrs", "odi", "pgic", "rmdq")
            ),
            "completed_at": Field("datetime", "When it was completed."),
            "score": Field(
                "number",
                "Total: NRS 0-10, ODI 0-100 (%), PGIC 1-7 (1 very much improved), RMDQ 0-24.",
            ),
            "section_scores": Field(
                "array",
                "ODI section scores 0-5, null where skipped.",
                items="integer",
                nullable_items=True,
                required=False,
            ),
            "prompt_id": _PROMPT,
        },
    ),
    _event(
        REMINDERS,
        "prompt.sent",
        subscribers=(OUTCOMES,),
        description="A prompt was sent to the patient.",
        data={
            **_PROMPT_REF,
            "injection_id": Field(
                "uuid", "The injection it follows; null for baseline.", nullable=True
            ),
            "kind": Field("string", "baseline, flare or horizon."),
            "due_at": Field("datetime", "When it was planned for."),
            "sent_at": Field("datetime", "When it was sent."),
            "expires_at": Field("datetime", "When its answer window closes."),
            "channel": Field("string", "push, sms, email or console."),
        },
    ),
    _event(
        REMINDERS,
        "prompt.answered",
        subscribers=(OUTCOMES,),
        description="A diary entry or questionnaire answered a prompt; its nudges stop.",
        data={
            **_PROMPT_REF,
            # Optional for events published before it was added; always sent now. A prompt can
            # be answered without ever being sent (planned after its window, answered by an
            # entry made inside it), so this may be the only event that says when it was due.
            "due_at": Field("datetime", "When it was planned for.", required=False),
            "answered_at": Field("datetime", "When it was answered."),
            "answer_id": Field(
                "uuid", "The diary entry or questionnaire response that answered it.", nullable=True
            ),
        },
    ),
    _event(
        REMINDERS,
        "prompt.expired",
        subscribers=(OUTCOMES,),
        description="A prompt's answer window closed unanswered (adherence).",
        data={
            **_PROMPT_REF,
            "due_at": Field("datetime", "When it was planned for."),
            "expired_at": Field("datetime", "When its window closed."),
        },
    ),
)

CATALOGUE: dict[str, EventType] = {event.name: event for event in EVENT_TYPES}


def event_type(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise UnknownEventType([f"type {name!r} is not in the event catalogue"]) from None


def subscribers_of(name: str) -> tuple[str, ...]:
    return event_type(name).subscribers


def data_problems(name: str, data: Any, *, allow_unknown_fields: bool = False) -> list[str]:
    """What is wrong with ``data`` for an event of this type (empty when nothing is)."""
    spec = event_type(name)
    if not isinstance(data, dict):
        return [f"{name}: data must be an object"]
    problems = []
    for field_name, field in spec.data.items():
        if field_name not in data:
            if field.required:
                problems.append(f"{name}: data.{field_name} is missing")
        elif not field.accepts(data[field_name]):
            problems.append(f"{name}: data.{field_name} must be {field.describe()}")
    if not allow_unknown_fields:
        problems.extend(
            f"{name}: data.{key} is not in the catalogue" for key in data if key not in spec.data
        )
    return problems


def validate_data(name: str, data: Any, *, allow_unknown_fields: bool = False) -> None:
    problems = data_problems(name, data, allow_unknown_fields=allow_unknown_fields)
    if problems:
        raise InvalidEvent(problems)


def validate_envelope(envelope: Any, *, allow_unknown_fields: bool = False) -> EventType:
    """Raise ``InvalidEvent`` unless ``envelope`` matches the catalogue; return its type.

    Producers (and their tests) check strictly. A consumer passes ``allow_unknown_fields=True``
    so that an optional field added by a newer producer does not make it refuse the event.
    """
    if not isinstance(envelope, dict):
        raise InvalidEvent(["the envelope must be an object"])
    missing = [key for key in ENVELOPE_KEYS if key not in envelope]
    unknown = [key for key in envelope if key not in ENVELOPE_KEYS]
    if missing or unknown:
        raise InvalidEvent(
            [f"envelope.{key} is missing" for key in missing]
            + [f"envelope.{key} is not part of the envelope" for key in unknown]
        )
    spec = event_type(envelope["type"])
    problems = []
    if not _is_type("uuid", envelope["id"]):
        problems.append("envelope.id must be a uuid")
    version = envelope["version"]
    if not _is_type("integer", version) or version != spec.version:
        problems.append(f"{spec.name}: version must be {spec.version}")
    if not _is_type("datetime", envelope["occurred_at"]):
        problems.append("envelope.occurred_at must be an ISO-8601 UTC timestamp")
    if envelope["producer"] != spec.producer:
        problems.append(f"{spec.name}: producer must be {spec.producer}")
    subject = envelope["subject"]
    data = envelope["data"]
    if not _is_type("uuid", subject):
        problems.append("envelope.subject must be the patient's uuid")
    elif isinstance(data, dict) and "patient_id" in data and data["patient_id"] != subject:
        problems.append("envelope.subject must equal data.patient_id")
    problems.extend(data_problems(spec.name, data, allow_unknown_fields=allow_unknown_fields))
    if problems:
        raise InvalidEvent(problems)
    return spec


# --- Many envelopes at once -------------------------------------------------------------------
# A producer that publishes hundreds of events in one transaction (an offline sync) checks them
# with ``validate_envelopes``: the same rules as ``validate_envelope``, decided per column (every
# event's ``nrs``, then every event's ``entry_id``, ...) with each distinct value checked once.
# The fast checks below only ever say "valid" where ``Field.accepts`` does; anything they doubt is
# checked again, envelope by envelope, by ``validate_envelope``, which words the problem.

# The one spelling of a UUID that _is_canonical_uuid accepts.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENVELOPE_KEY_SET = frozenset(ENVELOPE_KEYS)

_ColumnCheck = Callable[[list[Any]], bool]


def _distinct_strings(check: Callable[[str], bool]) -> _ColumnCheck:
    def column_ok(values: list[Any]) -> bool:
        try:
            distinct = set(values)
        except TypeError:  # a list or an object where a string belongs
            return False
        return all(type(value) is str and check(value) for value in distinct)

    return column_ok


def _value_check(kind: FieldType, field: Field | None = None) -> Callable[[Any], bool] | None:
    """A strict test of one non-null value of ``kind`` (None: no fast test of this kind)."""
    low = field.minimum if field is not None else None
    high = field.maximum if field is not None else None
    if kind == "integer":
        return lambda v: (
            type(v) is int and (low is None or v >= low) and (high is None or v <= high)
        )
    if kind == "number":
        return lambda v: (
            (type(v) is int or type(v) is float)
            and (low is None or v >= low)
            and (high is None or v <= high)
        )
    if kind == "boolean":
        return lambda v: type(v) is bool
    if kind == "string" and not (field is not None and field.choices):
        return lambda v: type(v) is str
    return None


def _column_check(field: Field) -> _ColumnCheck:
    nullable = field.nullable
    bounded = field.minimum is not None or field.maximum is not None
    if bounded and field.type not in ("integer", "number"):
        return lambda values: all(field.accepts(v) for v in values)
    if field.type in ("uuid", "string", "datetime"):
        if field.type == "uuid":
            test: Callable[[str], bool] = lambda v: _CANONICAL_UUID.fullmatch(v) is not None  # noqa: E731
        elif field.type == "datetime":
            test = _is_utc_timestamp
        elif field.choices:
            choices = frozenset(field.choices)
            test = choices.__contains__
        else:
            test = lambda v: True  # noqa: E731
        strings = _distinct_strings(test)
        return lambda values: (
            strings([v for v in values if v is not None]) and (nullable or None not in values)
        )
    if field.type == "array":
        item = _value_check(field.items or "string")
        if item is None:
            return lambda values: all(field.accepts(v) for v in values)
        items_nullable = field.nullable_items
        return lambda values: all(
            (v is None and nullable)
            or (
                type(v) is list
                and all((e is None and items_nullable) or (e is not None and item(e)) for e in v)
            )
            for v in values
        )
    one = _value_check(field.type, field)
    if one is None:
        return lambda values: all(field.accepts(v) for v in values)
    return lambda values: all(
        (v is None and nullable) or (v is not None and one(v)) for v in values
    )


_UUID_COLUMN = _distinct_strings(lambda v: _CANONICAL_UUID.fullmatch(v) is not None)
_TIMESTAMP_COLUMN = _distinct_strings(_is_utc_timestamp)


@cache
def _data_columns(
    name: str,
) -> tuple[frozenset[str], frozenset[str], tuple[tuple[str, _ColumnCheck], ...]]:
    spec = CATALOGUE[name]
    required = frozenset(key for key, field in spec.data.items() if field.required)
    return (
        frozenset(spec.data),
        required,
        tuple((key, _column_check(field)) for key, field in spec.data.items()),
    )


def _all_match(envelopes: Sequence[Any]) -> bool:
    """True only if every envelope matches the catalogue (strictly, as a producer checks)."""
    if len(envelopes) == 1:
        return _one_matches(envelopes[0])
    groups: dict[str, list[dict[str, Any]]] = {}
    for envelope in envelopes:
        if type(envelope) is not dict or envelope.keys() != _ENVELOPE_KEY_SET:
            return False
        name = envelope["type"]
        if type(name) is not str or name not in CATALOGUE:
            return False
        groups.setdefault(name, []).append(envelope)
    uuid_column, timestamps = _UUID_COLUMN, _TIMESTAMP_COLUMN
    for name, group in groups.items():
        spec = CATALOGUE[name]
        known, required, checks = _data_columns(name)
        datas = [envelope["data"] for envelope in group]
        if not (
            all(type(e["version"]) is int and e["version"] == spec.version for e in group)
            and all(e["producer"] == spec.producer for e in group)
            and uuid_column([e["id"] for e in group])
            and uuid_column([e["subject"] for e in group])
            and timestamps([e["occurred_at"] for e in group])
            and all(type(data) is dict and required <= data.keys() <= known for data in datas)
            and all(
                data.get("patient_id", e["subject"]) == e["subject"]
                for e, data in zip(group, datas, strict=True)
            )
        ):
            return False
        for key, check in checks:
            if not check([data[key] for data in datas if key in data]):
                return False
    return True


def _one_matches(envelope: Any) -> bool:
    """``_all_match`` of one envelope, without building columns."""
    if type(envelope) is not dict or envelope.keys() != _ENVELOPE_KEY_SET:
        return False
    name, data, subject = envelope["type"], envelope["data"], envelope["subject"]
    spec = CATALOGUE.get(name) if type(name) is str else None
    if spec is None or type(data) is not dict:
        return False
    known, required, checks = _data_columns(name)
    return (
        type(envelope["version"]) is int
        and envelope["version"] == spec.version
        and envelope["producer"] == spec.producer
        and _UUID_COLUMN([envelope["id"], subject])
        and _TIMESTAMP_COLUMN([envelope["occurred_at"]])
        and required <= data.keys() <= known
        and data.get("patient_id", subject) == subject
        and all(check([data[key]]) for key, check in checks if key in data)
    )


def validate_envelopes(envelopes: Sequence[Any]) -> None:
    """``validate_envelope`` (strictly, as a producer checks) for every envelope: raise
    ``InvalidEvent`` for the first that does not match the catalogue."""
    if not _all_match(envelopes):
        for envelope in envelopes:
            validate_envelope(envelope)
