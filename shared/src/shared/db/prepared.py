"""Server-side prepared statements for a service's hottest statements (PostgreSQL).

A statement as large as a diary create (a WITH of four parts, twenty columns, the outbox insert)
costs PostgreSQL more to parse and plan than to run for one row: about a third of its database
time. ``execute_prepared`` prepares such a statement once per database session (``PREPARE``) and
runs it with ``EXECUTE name(params)`` from then on.

- A statement's name is derived from its text, so every shape a caller builds gets its own, and
  one session holds at most ``MAX_PER_SESSION`` of them; past that, statements run unprepared.
- Prepared statements belong to the session: a new connection (Django reconnects after
  ``CONN_MAX_AGE``, or after an error) prepares them again. A ``PREPARE`` is kept even when the
  transaction around it rolls back, and one that fails is not remembered.
- ``EXECUTE`` goes through Django's cursor like any statement, so connection hooks apply: the
  audit context is attached to it as to an INSERT (see shared.audit.context).
- Not for a connection pooler that hands sessions between clients per transaction (PgBouncer in
  transaction mode): its sessions would not hold what this one prepared. The services connect
  to PostgreSQL directly.

Other databases run the statement as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import connections

MAX_PER_SESSION = 64
_ATTRIBUTE = "_shared_prepared"


def execute_prepared(
    cursor: Any, sql: str, params: Sequence[Any], *, using: str = "default"
) -> None:
    """``cursor.execute(sql, params)``, prepared on PostgreSQL (see the module doc). ``sql`` uses
    ``%s`` placeholders (and ``%%`` for a literal ``%``), as for ``cursor.execute``; every
    placeholder must stand where PostgreSQL can infer its type (give it a cast)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    name = _prepared_name(connection, sql)
    if name is None:
        cursor.execute(sql, params)
        return
    arguments = f"({', '.join(['%s'] * len(params))})" if params else ""
    cursor.execute(f"EXECUTE {name}{arguments}", params)


def _prepared_name(connection: Any, sql: str) -> str | None:
    session = connection.connection
    held: tuple[Any, dict[str, str]] | None = getattr(connection, _ATTRIBUTE, None)
    if held is None or held[0] is not session:
        held = (session, {})
        setattr(connection, _ATTRIBUTE, held)
    names = held[1]
    name = names.get(sql)
    if name is not None:
        return name
    if len(names) >= MAX_PER_SESSION:
        return None
    name = "shared_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:24]
    with session.cursor() as raw:
        # No parameters: psycopg2 leaves the text alone, so a literal % is written once.
        raw.execute(f"PREPARE {name} AS {_numbered(sql)}")
    names[sql] = name
    return name


def _numbered(sql: str) -> str:
    """``%s`` placeholders as PostgreSQL's ``$1, $2, ...``; ``%%`` as ``%``."""
    pieces = sql.split("%%")
    count = 0
    numbered = []
    for piece in pieces:
        parts = piece.split("%s")
        text = parts[0]
        for part in parts[1:]:
            count += 1
            text += f"${count}{part}"
        numbered.append(text)
    return "%".join(numbered)
