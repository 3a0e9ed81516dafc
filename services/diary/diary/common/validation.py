"""Plain-Python checks of client input, shared by the diary's validators.

They take JSON-decoded values and either return the clean value or raise ``Invalid`` with a
message. Messages never repeat the value they refuse: a refused note or medication name must not
travel into logs or error responses. They are deliberately free of DRF so that an offline sync can
check hundreds of items per request in microseconds each.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings

Error = dict[str, str]

NOT_ACCEPTED = "This field is not accepted here."
REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."

# A diary starts long after this; older stamps are a phone with a reset clock or a typo.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class Invalid(ValueError):
    """A value refused; the message is safe to show (it never quotes the value). A value made of
    parts (a list of objects) may carry the errors of its parts instead."""

    def __init__(self, message: str, errors: list[Error] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def error(field: str, message: str) -> Error:
    return {"field": field, "message": message}


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(value: object) -> bool:
    return isinstance(value, str) and value in _zones()


def clock_skew_tolerance() -> timedelta:
    """How far in the future a phone's timestamp may be: phones' clocks drift."""
    return timedelta(seconds=settings.DIARY_CLOCK_SKEW_SECONDS)


# --- Single values ----------------------------------------------------------------------------


def check_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, str) and len(value) <= 45:
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise Invalid("Must be a UUID.")


def check_aware_datetime(value: Any) -> datetime:
    """An ISO-8601 date-time with a UTC offset, returned in UTC."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise Invalid("Must include a UTC offset, e.g. 2026-03-01T09:30:00+00:00.")
            try:
                instant = parsed.astimezone(UTC)
            except (OverflowError, ValueError):
                instant = None
            if instant is not None:
                if instant < EARLIEST:
                    raise Invalid("Must not be before the year 2000.")
                return instant
    raise Invalid("Must be an ISO-8601 date-time with a UTC offset.")


def check_not_future(value: datetime, now: datetime) -> None:
    if value > now + clock_skew_tolerance():
        raise Invalid("Must not be in the future.")


def check_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise Invalid(f"Must be a whole number from {low} to {high}.")


def check_choice(value: Any, choices: Iterable[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise Invalid(f"Must be one of: {', '.join(sorted(choices))}.")


def check_choice_list(value: Any, choices: Iterable[str]) -> list[str]:
    """A set of codes, returned sorted without repeats (their order carries no meaning)."""
    allowed = frozenset(choices)
    if (
        isinstance(value, list)
        and len(value) <= len(allowed) * 2
        and all(isinstance(item, str) and item in allowed for item in value)
    ):
        return sorted(set(value))
    raise Invalid(f"Must be a list of: {', '.join(sorted(allowed))}.")


def check_text(value: Any, max_length: int, *, allow_blank: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid("Must be a string.")
    if len(value) > max_length:
        raise Invalid(f"Must be at most {max_length} characters.")
    # PostgreSQL cannot store NUL, and a lone surrogate cannot be encoded at all.
    if "\x00" in value:
        raise Invalid("Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("Must be valid Unicode text.") from None
    if not allow_blank and not value.strip():
        raise Invalid("This field may not be blank.")
    return value


def check_timezone(value: Any) -> str:
    if is_timezone(value):
        return str(value)
    raise Invalid("Must be an IANA time zone, e.g. Europe/London.")


# --- Objects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How one field of an object is checked.

    ``required``: must be present when the object is created. ``nullable``: ``null`` is accepted
    (and kept as ``None``). ``default``: a factory for the value of an absent optional field.
    """

    check: Callable[[Any], Any]
    required: bool = False
    nullable: bool = False
    default: Callable[[], Any] | None = None


def validate_fields(
    data: Any,
    rules: Mapping[str, Rule],
    *,
    ignored: frozenset[str] = frozenset(),
    partial: bool = False,
    prefix: str = "",
) -> tuple[dict[str, Any], list[Error]]:
    """Check ``data`` against ``rules``: unknown fields are refused, ``ignored`` ones dropped.

    With ``partial`` (a correction) only the fields present are checked and returned.
    """
    if not isinstance(data, dict):
        return {}, [error(prefix, "Must be a JSON object.")]
    cleaned: dict[str, Any] = {}
    errors: list[Error] = []
    for name in data:
        if name not in rules and name not in ignored:
            errors.append(error(f"{prefix}{name}", NOT_ACCEPTED))
    for name, rule in rules.items():
        if name not in data:
            if partial:
                continue
            if rule.required:
                errors.append(error(f"{prefix}{name}", REQUIRED))
            else:
                cleaned[name] = rule.default() if rule.default is not None else None
            continue
        value = data[name]
        if value is None:
            if rule.nullable:
                cleaned[name] = None
            elif rule.default is not None and not rule.required:
                cleaned[name] = rule.default()
            else:
                errors.append(error(f"{prefix}{name}", NOT_NULL))
            continue
        try:
            cleaned[name] = rule.check(value)
        except Invalid as exc:
            errors.extend(exc.errors or [error(f"{prefix}{name}", str(exc))])
    return cleaned, errors
