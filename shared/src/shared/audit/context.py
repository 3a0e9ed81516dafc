"""Who is writing, as the history triggers see it.

The actor and the request id come from the request context the rest of the platform already
keeps (shared.observability.context: the request id from the middleware, the user id bound when
the access token is verified), so every write made while serving a request is attributed with no
code in the service. ``audit_context`` overrides them for a block, e.g. a task acting for a user,
or a system job that must not be attributed to anyone.

How the values reach the database:
- PostgreSQL: every INSERT/UPDATE/DELETE statement, or EXECUTE of a prepared one, is sent with
  a prefix
  ``SELECT set_config('audit.actor_id', …, true), set_config('audit.request_id', …, true);``
  in the same round trip. Several statements in one query run as one transaction, so the
  transaction-local values hold for that write even in autocommit, never leak to the next
  transaction on a pooled connection, and cannot be forgotten by a service. (psycopg2 binds
  parameters on the client, which is what allows two statements in one execute.)
- SQLite: the triggers call two functions registered on every connection, which read the same
  context. A connection that has not registered them (the sqlite3 shell) cannot write to a
  tracked table at all: its writes fail instead of going unrecorded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from shared.observability.context import current_request_id, current_user_id

_UNSET: Any = object()
_actor: ContextVar[Any] = ContextVar("audit_actor_id", default=_UNSET)
_request: ContextVar[Any] = ContextVar("audit_request_id", default=_UNSET)

# Statements that can fire a row trigger. A leading WITH may hold a data-modifying CTE; EXECUTE
# runs a prepared statement (shared.db.prepared), which may be any of these.
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|WITH|EXECUTE)\b", re.IGNORECASE)
_PG_PREFIX = (
    "SELECT set_config('audit.actor_id', %s, true), set_config('audit.request_id', %s, true); "
)
_PG_PREFIX_NAMED = (
    "SELECT set_config('audit.actor_id', %(_audit_actor_id)s, true), "
    "set_config('audit.request_id', %(_audit_request_id)s, true); "
)
_REQUEST_ID_MAX = 64


def _as_uuid(value: object) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def audit_actor_id() -> uuid.UUID | None:
    """The actor writes are attributed to now: an ``audit_context`` override, else the
    authenticated caller of the current request, else nobody (the system)."""
    value = _actor.get()
    if value is _UNSET:
        value = current_user_id()
    return _as_uuid(value)


def audit_request_id() -> str:
    """The request (or task) id writes are attributed to now."""
    value = _request.get()
    if value is _UNSET:
        value = current_request_id()
    return str(value or "")[:_REQUEST_ID_MAX]


@contextmanager
def audit_context(
    *, actor_id: uuid.UUID | str | None, request_id: str | None = None
) -> Iterator[None]:
    """Attribute the writes (and audit entries) of the block to ``actor_id`` (None: the system),
    and to ``request_id`` when given (else the current request's or task's id). Nests; usable as
    a decorator. Nothing is written to the database by entering it."""
    if actor_id is not None and _as_uuid(actor_id) is None:
        raise ValueError("actor_id must be a UUID")
    actor_token = _actor.set(_as_uuid(actor_id))
    request_token = _request.set(request_id) if request_id is not None else None
    try:
        yield
    finally:
        _actor.reset(actor_token)
        if request_token is not None:
            _request.reset(request_token)


# --- Connection hooks -------------------------------------------------------------------------


def _pg_inject(
    execute: Callable[..., Any],
    sql: Any,
    params: Any,
    many: bool,
    context: dict[str, Any],
) -> Any:
    if not isinstance(sql, str) or not _WRITE.match(sql):
        return execute(sql, params, many, context)
    actor = audit_actor_id()
    values = (str(actor) if actor else "", audit_request_id())
    if many:
        # executemany cannot carry a prefix; a separate statement holds inside a transaction
        # (Django's bulk writes use one multi-row statement instead, so this is rare).
        context["cursor"].execute(_PG_PREFIX.rstrip("; "), values)
        return execute(sql, params, many, context)
    if params is None:
        # Without parameters psycopg2 leaves '%' alone; with them it must be doubled.
        return execute(_PG_PREFIX + sql.replace("%", "%%"), values, many, context)
    if isinstance(params, Mapping):
        named = {**params, "_audit_actor_id": values[0], "_audit_request_id": values[1]}
        return execute(_PG_PREFIX_NAMED + sql, named, many, context)
    if isinstance(params, Sequence):
        return execute(_PG_PREFIX + sql, (*values, *params), many, context)
    return execute(sql, params, many, context)


def _sqlite_actor_id() -> str | None:
    # Django keeps UUIDs as 32 hex digits in SQLite; the history row must match that form.
    actor = audit_actor_id()
    return actor.hex if actor else None


def connection_prepare(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created: make this connection carry the audit context (see module doc)."""
    if connection.vendor == "postgresql":
        if _pg_inject not in connection.execute_wrappers:
            # Innermost, and first in the list: connection.execute_wrapper() blocks pop the last
            # wrapper on exit, which must stay theirs even if the connection opened inside one.
            connection.execute_wrappers.insert(0, _pg_inject)
    elif connection.vendor == "sqlite":
        raw = connection.connection
        raw.create_function("audit_actor_id", 0, _sqlite_actor_id)
        raw.create_function("audit_request_id", 0, audit_request_id)
