"""Recognising a repeated create: the phone re-sends what it could not confirm.

A create carries an id the client chose. The server keeps a digest of the create's client-supplied
fields in their canonical form (as the validators clean them: instants in UTC, code sets sorted,
absent optional fields as their defaults). The same id with the same digest is the same create
sent again; the same id with another digest, or from another patient, is a conflict.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


# Values that are already what JSON spells (checked by exact type: a subclass goes the long way).
_AS_IS = frozenset({str, int, float, bool, type(None)})


def canonical_plain(value: Any) -> Any:
    """A cleaned value as the digest's document holds it (JSON types only)."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if kind is list and all(type(item) is str for item in value):
        return value  # a code set: nothing to convert
    if isinstance(value, list | tuple):
        return [canonical_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): canonical_plain(item) for key, item in value.items()}
    return value


def canonical_digest(cleaned: Mapping[str, Any], fields: Iterable[str], *, owner: uuid.UUID) -> str:
    """The digest of ``fields`` of a cleaned create body, bound to the patient it is for."""
    document = {name: canonical_plain(cleaned.get(name)) for name in fields}
    document["__owner"] = str(owner)
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Written(Generic[T]):
    """The outcome of a create: the stored object, and whether this call created it (False: the
    same create had been received before, and nothing was written)."""

    obj: T
    created: bool
