"""Multi-row INSERTs for writes of hundreds of rows per request.

Django's ``bulk_create(ignore_conflicts=True)`` cannot say which rows it inserted, so it would
need a second read of every row, and it prepares every value through several layers per field.
``insert_new`` asks the database instead: ``INSERT ... ON CONFLICT (pk) DO NOTHING RETURNING pk``,
where a row whose key a concurrent transaction is inserting waits for that transaction and is
then skipped, never duplicated.

PostgreSQL gets one array per column (``INSERT ... SELECT ... FROM unnest(%s::uuid[], ...)``): it
parses twenty arrays of 500 elements several times faster than 10,000 separate parameters. A
value every row shares (a timestamp, a foreign key, a default) travels once, as a scalar, and a
column may be an SQL expression of the caller's (e.g. a sequence's next value). SQLite (the
embedded default, where speed matters less) gets multi-row VALUES in chunks under its parameter
limit. Statements go through Django's cursor, so connection hooks (the audit context) apply as to
any ORM write.

``unnest_rows`` gives the SELECT alone, for a caller that builds a larger statement around it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    if not rows:
        return set()
    pk = _pk(model)
    found = insert_columns(
        model, _columns_of(model, rows), skip_existing=True, returning=(pk.attname,), using=using
    )
    return {pk.to_python(row[0]) for row in found}


def insert_all(
    model: type[Model], rows: Sequence[dict[str, Any]], *, using: str = "default"
) -> None:
    """Insert ``rows`` (field attname -> value), all with fresh keys."""
    if rows:
        insert_columns(model, _columns_of(model, rows), using=using)


def insert_columns(
    model: type[Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
    expressions: Mapping[str, str] | None = None,
    skip_existing: bool = False,
    returning: Sequence[str] = (),
    using: str = "default",
) -> list[tuple[Any, ...]]:
    """Insert one row per position of ``columns`` (field attname -> one value per row, all of the
    same length); ``constants`` (attname -> value) are shared by every row, ``expressions``
    (attname -> SQL, written by the caller, never input) computed per row by the database.
    Fields named nowhere take their defaults. With ``skip_existing`` rows whose primary key
    exists already are left out. Returns the ``returning`` columns (attnames) of the rows
    inserted, as the database gives them.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = model._meta
    pk = _pk(model)
    head = f"INSERT INTO {quote(opts.db_table)} "
    tail = f" ON CONFLICT ({quote(str(pk.column))}) DO NOTHING" if skip_existing else ""
    if returning:
        by_attname = {field.attname: field for field in opts.concrete_fields}
        tail += " RETURNING " + ", ".join(quote(str(by_attname[a].column)) for a in returning)
    if connection.vendor == "postgresql":
        rows = unnest_rows(
            model, columns, constants=constants, expressions=expressions, using=using
        )
        statements = [(head + rows.columns + " " + rows.select_from() + tail, rows.params)]
    else:
        statements = [
            (head + sql + tail, params)
            for sql, params in _values(model, columns, constants, expressions, connection)
        ]
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            if returning:
                found.extend(cursor.fetchall())
    return found


@dataclass(frozen=True)
class UnnestRows:
    """``INSERT INTO <table> <columns> <select_from(...)>`` inserts the rows; ``params`` are the
    select's, in order."""

    columns: str
    select_list: str
    source: str | None
    params: list[Any]

    def select_from(self, *others: str) -> str:
        """The SELECT, with ``others`` (the caller's tables or CTEs) added to its FROM list."""
        sources = [self.source, *others] if self.source else list(others)
        if not sources:
            return "SELECT " + self.select_list
        return "SELECT " + self.select_list + " FROM " + ", ".join(sources)  # noqa: S608

    @property
    def select(self) -> str:
        return self.select_from()


@dataclass(frozen=True)
class _Shape:
    """What an INSERT of one model looks like for one choice of which fields come as columns, as
    constants, as expressions or as defaults, whatever the values: built once per shape."""

    columns: str
    select_list: str
    source: str | None
    # In parameter order: (attname, how to spell the value(s) for PostgreSQL, one per row?).
    params: tuple[tuple[str, Any, bool], ...]
    # Fields nobody named: (attname, the field, a new default for every row?).
    defaults: tuple[tuple[str, Field[Any, Any], bool], ...]


_shapes: dict[tuple[Any, ...], _Shape] = {}


def _shape(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    columns: tuple[str, ...],
    constants: tuple[str, ...],
    expressions: tuple[tuple[str, str], ...],
    single: bool,
    key_column: tuple[str, str] | None,
) -> _Shape:
    key = (model, connection.alias, columns, constants, expressions, single, key_column)
    shape = _shapes.get(key)
    if shape is not None:
        return shape
    quote = connection.ops.quote_name
    by_expression = dict(expressions)
    names: list[str] = []
    selected: list[str] = []
    arrays: list[str] = []
    aliases: list[str] = []
    shared: list[tuple[str, Any, bool]] = []
    per_row: list[tuple[str, Any, bool]] = []
    defaults: list[tuple[str, Field[Any, Any], bool]] = []
    for field in model._meta.concrete_fields:
        name = field.attname
        column = quote(str(field.column))
        db_type = field.db_type(connection)
        names.append(column)
        if name in by_expression:
            selected.append(by_expression[name])
            continue
        is_column = name in columns
        if not is_column and name not in constants:
            # A default made per call (a new UUID) differs per row; any other is shared.
            is_column = field.has_default() and callable(field.default) and not _is_auto_now(field)
            defaults.append((name, field, is_column))
        if is_column and not single:
            selected.append(f"u.{column}")
            aliases.append(column)
            arrays.append(f"%s::{db_type}[]")
            per_row.append((name, _array_speller(field, connection), True))
        else:
            # A shared value (or the only row's): one parameter.
            selected.append(f"%s::{db_type}")
            shared.append((name, _scalar_speller(field, connection), False))
    source: str | None = None
    if key_column is not None:
        name, sql_type = key_column
        if single:
            source = f"(VALUES (%s::{sql_type})) AS u({quote(name)})"
        else:
            arrays.append(f"%s::{sql_type}[]")
            aliases.append(quote(name))
    if arrays:
        source = f"unnest({', '.join(arrays)}) AS u({', '.join(aliases)})"
    # Parameters are positional: the select list's come before the source's (then the key's).
    shape = _Shape(
        "(" + ", ".join(names) + ")",
        ", ".join(selected),
        source,
        (*shared, *per_row),
        tuple(defaults),
    )
    _shapes[key] = shape
    return shape


def unnest_rows(
    model: type[Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
    expressions: Mapping[str, str] | None = None,
    key: tuple[str, str, Sequence[Any]] | None = None,
    using: str = "default",
) -> UnnestRows:
    """PostgreSQL: the rows of ``insert_columns`` as ``SELECT ... FROM unnest(...) AS u(...)``,
    one array parameter per column (one row: one parameter per value, no unnest); a caller may
    add tables to the FROM list (``select_from``) and a WHERE clause after it. Every field of the
    model is given a value, in the model's order. ``expressions`` take no parameters (a literal
    ``%`` is written ``%%``).

    ``key`` = (name, SQL type, one value per row) adds a column ``u.<name>`` that is not
    inserted, for the caller's WHERE clause (e.g. to insert only the rows whose key another part
    of its statement returns). Its values are numbers or UUIDs (spelled as ``str`` spells them).
    """
    constants = constants or {}
    count = _row_count(columns)
    single = count == 1
    if key is not None and len(key[2]) != count:
        raise ValueError("the key needs one value per row")
    expressions = expressions or {}
    shape = _shape(
        model,
        connections[using],
        tuple(name for name in columns if name not in constants and name not in expressions),
        tuple(name for name in constants if name not in expressions),
        tuple(sorted(expressions.items())),
        single,
        None if key is None else (key[0], key[1]),
    )
    if shape.defaults:
        columns, constants = dict(columns), dict(constants)
        for name, field, per_row in shape.defaults:
            if per_row:
                columns[name] = [field.get_default() for _ in range(count)]
            else:
                constants[name] = _filler(field)()
    params: list[Any] = []
    for name, spell, is_array in shape.params:
        if is_array:
            params.append(spell(columns[name]))
        elif name in constants:
            params.append(spell(constants[name]))
        else:
            params.append(spell(columns[name][0]))
    if key is not None:
        values = key[2]
        params.append(str(values[0]) if single else "{" + ",".join(map(str, values)) + "}")
    return UnnestRows(shape.columns, shape.select_list, shape.source, params)


def model_values(obj: Model) -> dict[str, Any]:
    """An unsaved instance as a row for ``insert_new``."""
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


# --- Values -----------------------------------------------------------------------------------


def _pk(model: type[Model]) -> Field[Any, Any]:
    pk = model._meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    return pk


def _row_count(columns: Mapping[str, Sequence[Any]]) -> int:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError("every column needs one value per row")
    return lengths.pop()


def _columns_of(model: type[Model], rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as columns; where a row leaves a field out, the field's default."""
    columns: dict[str, list[Any]] = {}
    for field in model._meta.concrete_fields:
        name = field.attname
        if all(name in row for row in rows):
            columns[name] = [row[name] for row in rows]
        elif any(name in row for row in rows):
            fill = _filler(field)
            columns[name] = [row[name] if name in row else fill() for row in rows]
    return columns


def _completed(
    model: type[Model], columns: Mapping[str, Sequence[Any]], constants: Mapping[str, Any]
) -> tuple[Mapping[str, Sequence[Any]], dict[str, Any]]:
    """Give every field no one named its default: a shared value, or one value per row where the
    default is made per call (a new UUID)."""
    if not columns:
        raise ValueError("at least one column needs one value per row")
    constants = dict(constants)
    added: dict[str, list[Any]] = {}
    count = _row_count(columns)
    for field in model._meta.concrete_fields:
        name = field.attname
        if name in columns or name in constants:
            continue
        if field.has_default() and callable(field.default) and not _is_auto_now(field):
            added[name] = [field.get_default() for _ in range(count)]
        else:
            constants[name] = _filler(field)()
    return ({**columns, **added} if added else columns), constants


def _is_auto_now(field: Field[Any, Any]) -> bool:
    return isinstance(field, DateTimeField) and bool(field.auto_now or field.auto_now_add)


def _filler(field: Field[Any, Any]) -> Any:
    """The default of ``field`` for a batch: auto_now fields get one instant for every row."""
    if _is_auto_now(field):
        now = timezone.now()
        return lambda: now
    return field.get_default


def _prepared(
    field: Field[Any, Any], values: Sequence[Any], connection: BaseDatabaseWrapper
) -> Sequence[Any]:
    """One column's values as Django prepares them for the database."""
    if connection.vendor == "postgresql" and (
        isinstance(field, JSONField) or field.get_internal_type() in _PLAIN_TYPES
    ):
        return values  # _array_literal spells them
    return [field.get_db_prep_save(v, connection) for v in values]


def _scalar_speller(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> Any:
    """How one value of ``field`` travels as a parameter (PostgreSQL)."""
    if isinstance(field, JSONField):
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    if field.get_internal_type() in _PLAIN_TYPES:
        return lambda value: value  # the driver spells it; the cast names the column's type
    return lambda value: field.get_db_prep_save(value, connection)


def _array_speller(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> Any:
    """How one column of ``field`` travels as an array literal (PostgreSQL)."""
    return lambda values: _array_literal(field, _prepared(field, values, connection))


def _array_literal(field: Field[Any, Any], values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of one column. Text is quoted and escaped, so commas, braces,
    blanks and the word NULL stay text; numbers, UUIDs, booleans and timestamps need no quotes.
    The validators refuse NUL characters, which no literal can hold."""
    if isinstance(field, JSONField):
        # Rows often share one value object (a batch's code lists): each is spelled once.
        encoder = field.encoder
        spelled: dict[int, str] = {}
        parts = []
        for value in values:
            if value is None:
                parts.append("NULL")
                continue
            text = spelled.get(id(value))
            if text is None:
                text = spelled[id(value)] = _quoted(json.dumps(value, cls=encoder))
            parts.append(text)
        return "{" + ",".join(parts) + "}"
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
    model: type[Model],
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None,
    expressions: Mapping[str, str] | None,
    connection: BaseDatabaseWrapper,
) -> list[tuple[str, list[Any]]]:
    """Other databases: multi-row VALUES, in chunks under the parameter limit."""
    columns, constants = _completed(model, columns, constants or {})
    expressions = expressions or {}
    count = _row_count(columns)
    quote = connection.ops.quote_name
    fields = list(model._meta.concrete_fields)
    placeholders: list[str] = []
    prepared: list[Sequence[Any]] = []
    for field in fields:
        name = field.attname
        if name in expressions:
            placeholders.append(expressions[name])
            continue
        placeholders.append("%s")
        if name in constants:
            prepared.append([field.get_db_prep_save(constants[name], connection)] * count)
        else:
            prepared.append(_prepared(field, columns[name], connection))
    names = "(" + ", ".join(quote(str(f.column)) for f in fields) + ") "
    row = "(" + ", ".join(placeholders) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, [None] * count))
    statements = []
    for start in range(0, count, size):
        stop = min(start + size, count)
        params = [column[index] for index in range(start, stop) for column in prepared]
        statements.append((names + "VALUES " + ", ".join([row] * (stop - start)), params))
    return statements
