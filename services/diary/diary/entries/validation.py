"""The rules of a pain entry's input, as plain functions (no DRF), so the single-entry API and the
offline sync (hundreds of items per request) check exactly the same things, fast.

``validate_entry(data)`` returns (cleaned values, errors); errors are ``{"field", "message"}``
and never quote what was sent. ``entry_derived(cleaned)`` adds what the server computes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from diary.common.choices import CoTreatment, code_set
from diary.common.validation import (
    Error,
    Invalid,
    Rule,
    check_aware_datetime,
    check_choice_list,
    check_int,
    check_not_future,
    check_text,
    check_timezone,
    check_uuid,
    clock_skew_tolerance,
    error,
    is_timezone,
    validate_fields,
)
from diary.entries.choices import BODY_REGIONS, SIDE_EFFECTS, is_red_flag
from diary.entries.models import NOTE_MAX_LENGTH
from diary.entries.nsaids import is_nsaid

NRS_MIN, NRS_MAX = 0, 10
MEDICATIONS_MAX = 20
MEDICATION_NAME_MAX_LENGTH = 100
MEDICATION_DOSE_MAX_LENGTH = 50
CO_TREATMENTS = code_set(CoTreatment)


def _nrs(value: Any) -> int:
    return check_int(value, NRS_MIN, NRS_MAX)


_MEDICATION_RULES: dict[str, Rule] = {
    "name": Rule(
        lambda v: check_text(v, MEDICATION_NAME_MAX_LENGTH, allow_blank=False).strip(),
        required=True,
    ),
    "dose": Rule(
        lambda v: check_text(v, MEDICATION_DOSE_MAX_LENGTH).strip() or None, nullable=True
    ),
}


def check_medications(value: Any) -> list[dict[str, Any]]:
    """[{"name", "dose"?}, ...]; ``nsaid`` (computed) is ignored if a client echoes it back."""
    if not isinstance(value, list) or len(value) > MEDICATIONS_MAX:
        raise Invalid(f"Must be a list of at most {MEDICATIONS_MAX} medications.")
    cleaned: list[dict[str, Any]] = []
    errors: list[Error] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(error(f"medications[{index}]", "Must be a JSON object."))
            continue
        medication, item_errors = validate_fields(
            item, _MEDICATION_RULES, ignored=frozenset({"nsaid"}), prefix=f"medications[{index}]."
        )
        errors.extend(item_errors)
        cleaned.append(medication)
    if errors:
        raise Invalid("Invalid medications.", errors)
    return cleaned


RULES: dict[str, Rule] = {
    "id": Rule(check_uuid, required=True),
    "occurred_at": Rule(check_aware_datetime, required=True),
    "timezone": Rule(check_timezone, required=True),
    "nrs_now": Rule(_nrs, required=True),
    "nrs_worst_24h": Rule(_nrs, nullable=True),
    "nrs_average_7d": Rule(_nrs, nullable=True),
    "body_regions": Rule(lambda v: check_choice_list(v, BODY_REGIONS), default=list),
    "medications": Rule(check_medications, default=list),
    "side_effects": Rule(lambda v: check_choice_list(v, SIDE_EFFECTS), default=list),
    "co_treatments": Rule(lambda v: check_choice_list(v, CO_TREATMENTS), default=list),
    "prompt_id": Rule(check_uuid, nullable=True),
    "note": Rule(lambda v: check_text(v, NOTE_MAX_LENGTH), default=str),
}

# The client-supplied fields: what a create's digest covers (see diary.common.idempotency).
CLIENT_FIELDS = tuple(RULES)
# A correction may change everything the client chose except the id.
CORRECTION_RULES = {name: rule for name, rule in RULES.items() if name != "id"}

# What the server decides. A client that echoes a representation back may send them; they are
# ignored, and the server's values stand.
SERVER_FIELDS = frozenset(
    {
        "patient_id",
        "clinic_id",
        "nsaid",
        "red_flag",
        "received_at",
        "updated_at",
        "server_seq",
        "version",
        "deleted_at",
    }
)


def validate_entry(
    data: Any, *, now: datetime | None = None, partial: bool = False
) -> tuple[dict[str, Any], list[Error]]:
    """Check a pain entry's create body (or, with ``partial``, a correction's changes).

    ``occurred_at`` may be late (an entry kept offline for days) but not further in the future
    than the clock-skew tolerance (setting DIARY_CLOCK_SKEW_SECONDS).
    """
    if partial:
        cleaned, errors = validate_fields(
            data, CORRECTION_RULES, ignored=SERVER_FIELDS | {"id"}, partial=True
        )
    else:
        cleaned, errors = validate_fields(data, RULES, ignored=SERVER_FIELDS)
    occurred_at = cleaned.get("occurred_at")
    if occurred_at is not None:
        try:
            check_not_future(occurred_at, now or timezone.now())
        except Invalid as exc:
            errors.append(error("occurred_at", str(exc)))
    return cleaned, errors


def entry_derived(cleaned: dict[str, Any]) -> dict[str, Any]:
    """What the server computes from the client's fields: NSAID per medication and for the entry,
    and whether a side effect is a red flag."""
    derived: dict[str, Any] = {}
    if "medications" in cleaned:
        medications = [
            {"name": m["name"], "dose": m.get("dose"), "nsaid": is_nsaid(m["name"])}
            for m in cleaned["medications"]
        ]
        derived["medications"] = medications
        derived["nsaid"] = any(m["nsaid"] for m in medications)
    if "side_effects" in cleaned:
        derived["red_flag"] = is_red_flag(cleaned["side_effects"])
    return derived


# --- Many entries at once ---------------------------------------------------------------------
# The offline sync checks hundreds of entries per request. ``validate_entries`` gives each item
# exactly what ``validate_entry`` gives it, faster: the checks above are called directly, without
# the rule table's dispatch, and each distinct code list or medication list of the batch is
# checked once (a phone's backlog repeats the same few), so most of an item costs a few dictionary
# look-ups. An item any check refuses, or whose shape is unusual, is checked again by
# ``validate_entry``, which words its errors; so the answers are always the same.

_ACCEPTED = frozenset(RULES) | SERVER_FIELDS
_REQUIRED = frozenset(name for name, rule in RULES.items() if rule.required)
_CODE_LISTS = {
    "body_regions": BODY_REGIONS,
    "side_effects": SIDE_EFFECTS,
    "co_treatments": CO_TREATMENTS,
}


class _Refused(Exception):
    """This item goes the long way (``validate_entry``)."""


def _memo(check: Any) -> Any:
    """``check`` of one value, remembered for the batch by a hashable key of the value."""
    seen: dict[Any, Any] = {}

    def checked(value: Any, key: Any) -> Any:
        try:
            result = seen[key]
        except KeyError:
            try:
                result = check(value)
            except Invalid:
                result = _Refused
            seen[key] = result
        except TypeError:  # not hashable after all: check it alone
            try:
                result = check(value)
            except Invalid:
                result = _Refused
        if result is _Refused:
            raise _Refused
        return result

    return checked


def _code_list(choices: frozenset[str]) -> Any:
    memo = _memo(lambda value: check_choice_list(value, choices))

    def clean(value: Any) -> list[str]:
        if value is None:
            return []
        if type(value) is not list:
            raise _Refused
        result: list[str] = memo(value, tuple(value))
        return result

    return clean


def _medication_key(value: Any) -> tuple[Any, ...]:
    if type(value) is not list or not all(type(item) is dict for item in value):
        raise _Refused
    return tuple(tuple(item.items()) for item in value)


def _optional_nrs(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is int and NRS_MIN <= value <= NRS_MAX:
        return value
    raise _Refused


def validate_entries(
    items: list[Any], *, now: datetime | None = None
) -> list[tuple[dict[str, Any], list[Error]]]:
    """``validate_entry`` of each item (a create body), for a whole batch: one (cleaned values,
    errors) per item, in order. Cleaned values of different items may share list objects: they
    are read, never changed."""
    now = now or timezone.now()
    latest = now + clock_skew_tolerance()
    code_lists = {name: _code_list(choices) for name, choices in _CODE_LISTS.items()}
    medications = _memo(check_medications)
    results: list[tuple[dict[str, Any], list[Error]] | None] = [None] * len(items)
    for index, data in enumerate(items):
        if type(data) is not dict or not (data.keys() >= _REQUIRED and _ACCEPTED.issuperset(data)):
            results[index] = validate_entry(data, now=now)
            continue
        get = data.get
        try:
            nrs_now = data["nrs_now"]
            if type(nrs_now) is not int or not NRS_MIN <= nrs_now <= NRS_MAX:
                raise _Refused
            zone = data["timezone"]
            if not is_timezone(zone):
                raise _Refused
            occurred_at = check_aware_datetime(data["occurred_at"])
            if occurred_at > latest:
                raise _Refused
            meds = get("medications")
            cleaned = {
                "id": check_uuid(data["id"]),
                "occurred_at": occurred_at,
                "timezone": zone,
                "nrs_now": nrs_now,
                "nrs_worst_24h": _optional_nrs(get("nrs_worst_24h")),
                "nrs_average_7d": _optional_nrs(get("nrs_average_7d")),
                "body_regions": code_lists["body_regions"](get("body_regions")),
                "medications": [] if meds is None else medications(meds, _medication_key(meds)),
                "side_effects": code_lists["side_effects"](get("side_effects")),
                "co_treatments": code_lists["co_treatments"](get("co_treatments")),
                "prompt_id": None if get("prompt_id") is None else check_uuid(data["prompt_id"]),
                "note": "" if get("note") is None else check_text(data["note"], NOTE_MAX_LENGTH),
            }
        except (_Refused, Invalid, TypeError):
            results[index] = validate_entry(data, now=now)
            continue
        results[index] = (cleaned, [])
    return [result for result in results if result is not None]
