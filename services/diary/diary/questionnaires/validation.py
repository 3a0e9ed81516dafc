"""The rules of a questionnaire response's input, as plain functions (no DRF), shared by the API
and the offline sync. ``validate_response(data)`` returns (cleaned values, errors); the cleaned
values include the instrument definition's computed ``score``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from diary.common.validation import (
    Error,
    Invalid,
    Rule,
    check_aware_datetime,
    check_choice,
    check_not_future,
    check_text,
    check_timezone,
    check_uuid,
    error,
    validate_fields,
)
from diary.questionnaires.instruments import CODES, Instrument, instrument_get

MAX_ANSWERS = 50


def _answers(value: Any) -> list[int | None]:
    if not isinstance(value, list) or len(value) > MAX_ANSWERS:
        raise Invalid("Must be a list of answers, one per item (null where skipped).")
    for item in value:
        if item is not None and (not isinstance(item, int) or isinstance(item, bool)):
            raise Invalid("Must be a list of whole numbers (null where skipped).")
    return list(value)


RULES: dict[str, Rule] = {
    "id": Rule(check_uuid, required=True),
    "instrument": Rule(lambda v: check_choice(v, CODES), required=True),
    "instrument_version": Rule(lambda v: check_text(v, 16, allow_blank=False), nullable=True),
    "answers": Rule(_answers, required=True),
    "occurred_at": Rule(check_aware_datetime, required=True),
    "timezone": Rule(check_timezone, required=True),
    "prompt_id": Rule(check_uuid, nullable=True),
}

# The client-supplied fields: what a create's digest covers (see diary.common.idempotency).
CLIENT_FIELDS = tuple(RULES)

SERVER_FIELDS = frozenset(
    {
        "patient_id",
        "clinic_id",
        "score",
        "received_at",
        "updated_at",
        "server_seq",
        "version",
        "deleted_at",
    }
)


def check_answers(instrument: Instrument, answers: list[int | None]) -> list[Error]:
    if len(answers) != instrument.items:
        return [
            error(
                "answers",
                f"{instrument.name} has {instrument.items} items; send one "
                "answer per item, null where skipped.",
            )
        ]
    errors = [
        error(
            f"answers[{index}]",
            f"Must be from {instrument.item_min} to {instrument.item_max}.",
        )
        for index, answer in enumerate(answers)
        if answer is not None and not instrument.item_min <= answer <= instrument.item_max
    ]
    answered = sum(1 for answer in answers if answer is not None)
    if not errors and answered < instrument.min_answered:
        if instrument.items == 1:
            message = "The answer is required."
        else:
            message = (
                f"At least {instrument.min_answered} of the {instrument.items} items must be "
                "answered for a score."
            )
        errors.append(error("answers", message))
    return errors


def validate_response(
    data: Any, *, now: datetime | None = None
) -> tuple[dict[str, Any], list[Error]]:
    """Check a questionnaire response; on success the cleaned values carry the instrument's
    version and the computed ``score``."""
    cleaned, errors = validate_fields(data, RULES, ignored=SERVER_FIELDS)
    occurred_at = cleaned.get("occurred_at")
    if occurred_at is not None:
        try:
            check_not_future(occurred_at, now or timezone.now())
        except Invalid as exc:
            errors.append(error("occurred_at", str(exc)))
    code = cleaned.get("instrument")
    if code is None:
        return cleaned, errors
    instrument = instrument_get(code, cleaned.get("instrument_version"))
    if instrument is None:
        errors.append(error("instrument_version", "Not a known version of this instrument."))
        return cleaned, errors
    cleaned["instrument_version"] = instrument.version
    answers = cleaned.get("answers")
    if answers is not None:
        answer_errors = check_answers(instrument, answers)
        errors.extend(answer_errors)
        if not answer_errors:
            cleaned["score"] = instrument.score(answers)
    return cleaned, errors
