"""Writing many rows' differing values in one statement.

Django's ``bulk_update`` builds a CASE expression per field in Python, which costs seconds for a
few hundred rows; planning writes that many for a clinic's re-plan. On PostgreSQL this is one
``UPDATE ... FROM (VALUES ...)``; elsewhere (SQLite, the embedded default) ``bulk_update``.
(Delivery, the hottest path, writes its few fixed columns with ``unnest`` arrays instead.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def rows_update(model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(rows, list(fields))
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None  # noqa: S101 - every model here has a primary key
    columns = [field for name in fields if isinstance(field := meta.get_field(name), Field)]
    casts = [pk.cast_db_type(connection)] + [c.cast_db_type(connection) for c in columns]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    params: list[Any] = []
    for row in rows:
        params.append(pk.get_db_prep_value(row.pk, connection))
        for column in columns:
            params.append(column.get_db_prep_save(getattr(row, column.attname), connection))
    names = ", ".join(str(column) for column in [pk.column, *(c.column for c in columns)])
    assignments = ", ".join(f"{c.column} = v.{c.column}" for c in columns)
    sql = (
        f"UPDATE {meta.db_table} AS t SET {assignments} "  # noqa: S608 - names from the model
        f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v({names}) "
        f"WHERE t.{pk.column} = v.{pk.column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
