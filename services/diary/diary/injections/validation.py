"""The rules of an injection's input, as plain functions (no DRF): the API and the offline sync
both use them. ``validate_injection(data)`` returns (cleaned values, errors)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from diary.common.choices import CoTreatment, code_set
from diary.common.validation import (
    Error,
    Invalid,
    Rule,
    check_aware_datetime,
    check_choice,
    check_choice_list,
    check_not_future,
    check_uuid,
    error,
    validate_fields,
)
from diary.injections.choices import (
    DEXTROSE_MAX_PERCENT,
    DEXTROSE_MIN_PERCENT,
    PROTOCOLS,
    Anaesthetic,
    Diagnosis,
    Guidance,
    Laterality,
    Site,
    Solution,
)

SITES = code_set(Site)
LATERALITIES = code_set(Laterality)
SOLUTIONS = code_set(Solution)
ANAESTHETICS = code_set(Anaesthetic)
GUIDANCES = code_set(Guidance)
PROTOCOL_CODES = frozenset(code for code, _ in PROTOCOLS)
DIAGNOSES = code_set(Diagnosis)
CO_TREATMENTS = code_set(CoTreatment)


def check_dextrose_percent(value: Any) -> Decimal:
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and DEXTROSE_MIN_PERCENT <= value <= DEXTROSE_MAX_PERCENT
    ):
        return Decimal(str(round(float(value), 1)))
    raise Invalid(f"Must be a percentage from {DEXTROSE_MIN_PERCENT} to {DEXTROSE_MAX_PERCENT}.")


# Details a clinician knows and a patient may not: all optional, null when unknown.
DETAIL_FIELDS = (
    "site",
    "laterality",
    "solution",
    "dextrose_percent",
    "anaesthetic",
    "guidance",
    "protocol",
    "diagnosis",
)

RULES: dict[str, Rule] = {
    "id": Rule(check_uuid, nullable=True),
    "performed_at": Rule(check_aware_datetime, required=True),
    "site": Rule(lambda v: check_choice(v, SITES), nullable=True),
    "laterality": Rule(lambda v: check_choice(v, LATERALITIES), nullable=True),
    "solution": Rule(lambda v: check_choice(v, SOLUTIONS), nullable=True),
    "dextrose_percent": Rule(check_dextrose_percent, nullable=True),
    "anaesthetic": Rule(lambda v: check_choice(v, ANAESTHETICS), nullable=True),
    "guidance": Rule(lambda v: check_choice(v, GUIDANCES), nullable=True),
    "protocol": Rule(lambda v: check_choice(v, PROTOCOL_CODES), nullable=True),
    "diagnosis": Rule(lambda v: check_choice(v, DIAGNOSES), nullable=True),
    "co_treatments": Rule(lambda v: check_choice_list(v, CO_TREATMENTS), default=list),
    "course_id": Rule(check_uuid, nullable=True),
}

# What the server decides: sent back by a client that echoes a representation, and ignored.
SERVER_FIELDS = frozenset(
    {
        "patient_id",
        "clinic_id",
        "number_in_course",
        "recorded_by",
        "recorded_by_role",
        "verified",
        "verified_by",
        "verified_at",
        "server_seq",
        "received_at",
        "updated_at",
        "version",
        "deleted_at",
    }
)

# The fields a create's digest covers (see diary.common.idempotency).
CLIENT_FIELDS = tuple(RULES)
# A correction may change everything the client chose except the id; it may move the injection
# to another course, but not to none.
CORRECTION_RULES = {name: rule for name, rule in RULES.items() if name != "id"}
CORRECTION_RULES["course_id"] = Rule(check_uuid)


def validate_injection(
    data: Any, *, now: datetime | None = None, partial: bool = False
) -> tuple[dict[str, Any], list[Error]]:
    """Check an injection's create body (or, with ``partial``, a correction's changes)."""
    if partial:
        cleaned, errors = validate_fields(
            data, CORRECTION_RULES, ignored=SERVER_FIELDS | {"id"}, partial=True
        )
    else:
        cleaned, errors = validate_fields(data, RULES, ignored=SERVER_FIELDS)
    performed_at = cleaned.get("performed_at")
    if performed_at is not None:
        try:
            check_not_future(performed_at, now or timezone.now())
        except Invalid as exc:
            errors.append(error("performed_at", str(exc)))
    if not partial:
        errors.extend(injection_consistency(cleaned))
    return cleaned, errors


def injection_consistency(values: dict[str, Any]) -> list[Error]:
    """Rules between fields, checked on the whole injection (after a correction is merged)."""
    if values.get("dextrose_percent") is not None and values.get("solution") != Solution.DEXTROSE:
        return [error("dextrose_percent", "Only a dextrose solution has a concentration.")]
    return []
