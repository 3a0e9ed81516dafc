"""Multi-row INSERTs for writes of hundreds of rows per request.

Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows it inserted, so it would
need a second read of every row, and it prepares every value through several layers per field.
``insert_new`` asks the database instead: ``INSERT ... ON CONFLICT (pk) DO NOTHING RETURNING pk``,
where a row whose key a concurrent transaction is inserting waits for that transaction and is
then skipped, never duplicated.

PostgreSQL gets one array per column (``INSERT ... SELECT * FROM unnest(%s::uuid[], ...)``): it
parses twenty arrays of 500 elements several times faster than 10,000 separate parameters. SQLite
(the embedded default, where speed matters less) gets multi-row VALUES in chunks under its
parameter limit. Statements go through Django's cursor, so connection hooks (the audit context)
apply as to any ORM write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Field, JSONField, Model
from django.utils import timezone

# Fields whose Python value prints as PostgreSQL reads it, so no per-value preparation is needed.
_PLAIN_TYPES = frozenset(
    {
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "FloatField",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
        "UUIDField",
    }
)
_TEXT_TYPES = frozenset({"CharField", "TextField"})


def insert_new(
    model: type[Model], rows: Sequence[dict[str, Any]], *, using: str = "default"
) -> set[Any]:
    """Insert ``rows`` (field attname -> value; absent fields take their defaults) except those
    whose primary key exists already; return the primary keys inserted."""
    return _insert(model, rows, skip_existing=True, using=using)


def insert_all(
    model: type[Model], rows: Sequence[dict[str, Any]], *, using: str = "default"
) -> None:
    """Insert ``rows`` (field attname -> value), all with fresh keys."""
    _insert(model, rows, skip_existing=False, using=using)


def model_values(obj: Model) -> dict[str, Any]:
    """An unsaved instance as a row for ``insert_new``."""
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def _insert(
    model: type[Model], rows: Sequence[dict[str, Any]], *, skip_existing: bool, using: str
) -> set[Any]:
    if not rows:
        return set()
    opts = model._meta
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = list(opts.concrete_fields)
    pk = opts.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    head = (
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "
    )
    tail = f" ON CONFLICT ({quote(str(pk.column))}) DO NOTHING RETURNING {quote(str(pk.column))}"
    columns = [_column(rows, field, connection) for field in fields]
    if connection.vendor == "postgresql":
        statements = [_unnest(fields, columns, connection)]
    else:
        statements = _values(fields, columns, len(rows), connection)
    inserted: set[Any] = set()
    with connection.cursor() as cursor:
        for sql, params in statements:
            if skip_existing:
                cursor.execute(head + sql + tail, params)
                inserted.update(pk.to_python(row[0]) for row in cursor.fetchall())
            else:
                cursor.execute(head + sql, params)
    return inserted


def _column(
    rows: Sequence[dict[str, Any]], field: Field[Any, Any], connection: BaseDatabaseWrapper
) -> list[Any]:
    """One column's values as Django prepares them for the database."""
    name = field.attname
    if all(name in row for row in rows):
        values = [row[name] for row in rows]
    else:
        fill = field.get_default
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
            now = timezone.now()
            fill = lambda: now  # noqa: E731 - one instant for the whole batch
        values = [row[name] if name in row else fill() for row in rows]
    if connection.vendor == "postgresql" and (
        isinstance(field, JSONField) or field.get_internal_type() in _PLAIN_TYPES
    ):
        return values  # _array_literal spells them
    return [field.get_db_prep_save(v, connection) for v in values]


def _unnest(
    fields: list[Field[Any, Any]], columns: list[list[Any]], connection: BaseDatabaseWrapper
) -> tuple[str, list[str]]:
    casts = [f"%s::{field.db_type(connection)}[]" for field in fields]
    params = [_array_literal(field, column) for field, column in zip(fields, columns, strict=True)]
    # The casts name the model's column types; every value travels as a parameter.
    return "SELECT * FROM unnest(" + ", ".join(casts) + ")", params  # noqa: S608


def _array_literal(field: Field[Any, Any], values: list[Any]) -> str:
    """A PostgreSQL array literal of one column. Text is quoted and escaped, so commas, braces,
    blanks and the word NULL stay text; numbers, UUIDs, booleans and timestamps need no quotes.
    The validators refuse NUL characters, which no literal can hold."""
    if isinstance(field, JSONField):
        encoder = field.encoder
        texts = [None if v is None else json.dumps(v, cls=encoder) for v in values]
        return "{" + ",".join("NULL" if t is None else _quoted(t) for t in texts) + "}"
    kind = field.get_internal_type()
    if kind in _TEXT_TYPES:
        return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"
    if kind == "BooleanField":
        return "{" + ",".join("NULL" if v is None else ("t" if v else "f") for v in values) + "}"
    if kind == "DateTimeField":
        return "{" + ",".join("NULL" if v is None else v.isoformat() for v in values) + "}"
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _quoted(text: str) -> str:
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


def _values(
    fields: list[Field[Any, Any]],
    columns: list[list[Any]],
    count: int,
    connection: BaseDatabaseWrapper,
) -> list[tuple[str, list[Any]]]:
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, [None] * count))
    statements = []
    for start in range(0, count, size):
        stop = min(start + size, count)
        params = [column[index] for index in range(start, stop) for column in columns]
        statements.append(("VALUES " + ", ".join([row] * (stop - start)), params))
    return statements
