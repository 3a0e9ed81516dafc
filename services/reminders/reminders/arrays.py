"""PostgreSQL array literals: a column of hundreds of values as one statement parameter.

A statement that takes ``unnest(%s::uuid[], %s::integer[], ...)`` is parsed once whatever the
number of rows, where a ``VALUES`` list of separate parameters costs the server a parse (and the
driver a quote) per value: dispatch writes hundreds of rows a task, thousands a second.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any


def pg_array(values: Iterable[Any]) -> str:
    """The array literal of ``values`` (None, bool, int, UUID, aware datetime or str); the
    statement casts the parameter to the column's array type. Text is quoted and escaped, so
    commas, braces, blanks and the word NULL stay text."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, bool):
            parts.append("t" if value else "f")
        elif isinstance(value, int | uuid.UUID):
            parts.append(str(value))
        elif isinstance(value, datetime):
            parts.append(value.isoformat())
        else:
            parts.append(_quoted(str(value)))
    return "{" + ",".join(parts) + "}"


def _quoted(text: str) -> str:
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'
