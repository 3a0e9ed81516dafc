"""Validation of the values a person chooses for their profile."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(value: str) -> bool:
    return value in _zones()


def validate_timezone(value: str) -> None:
    """An IANA zone name such as Europe/London; abbreviations and offsets are ambiguous."""
    if not isinstance(value, str) or not is_timezone(value):
        raise ValidationError(
            "%(value)s is not an IANA time zone (e.g. Europe/London).",
            code="invalid_timezone",
            params={"value": value},
        )


def validate_locale(value: str) -> None:
    """A BCP 47 language tag such as en, en-GB or pt-BR."""
    if not isinstance(value, str) or len(value) > 35 or not _LOCALE.match(value):
        raise ValidationError(
            "%(value)s is not a language tag (e.g. en-GB).",
            code="invalid_locale",
            params={"value": value},
        )


def normalise_locale(value: str) -> str:
    return value.replace("_", "-")
