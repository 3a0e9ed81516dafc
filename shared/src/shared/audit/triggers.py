"""The database side of the audit trail: append-only guards and row-history triggers, for
PostgreSQL (deployed) and SQLite (the embedded default).

PostgreSQL has two generic history functions; each tracked table gets triggers that call them
with the table's primary-key column and the columns to leave out. ``to_jsonb`` copies the whole
row, so a column added later is recorded with no new migration. Updates and deletes are recorded
by a row trigger (it compares OLD with NEW); inserts by a statement trigger that reads the
statement's inserted rows (its transition table) and writes all their history rows with one
INSERT ... SELECT: the same rows as a row trigger would write, without a trigger call and an
INSERT per row (an offline sync inserts hundreds of rows in one statement). See ADR 0016.

SQLite triggers cannot take arguments or read a row generically, so each tracked table gets
triggers that list its columns. SQLite drops a table's triggers when Django rebuilds the table
(most column changes do), so after every ``migrate`` the triggers of every tracked table are
built again from the current columns (``sqlite_triggers_refresh``), from a small list of tracked
tables this module keeps in the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps.registry import Apps
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

HISTORY_TABLE = "audit_historyrecord"
# The transition table of the insert trigger: the rows one INSERT statement inserted.
INSERTED_ROWS = "audit_inserted_rows"
APPEND_ONLY_TABLES = ("audit_auditentry", HISTORY_TABLE)
# The tracked tables of an SQLite database, so their triggers can be rebuilt after a migration.
SQLITE_TRACKING_TABLE = "audit_sqlite_tracking"
# Set for one transaction by the flush command of a test run (see management/commands/flush.py).
ALLOW_TRUNCATE_SETTING = "audit.allow_truncate"

# Identifiers in these statements come from model metadata, never from input.
PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{ALLOW_TRUNCATE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% keeps audit records: TRUNCATE refused', TG_TABLE_NAME;
END
$$;

-- The actor of the current transaction (audit.actor_id, set by shared.audit.context), or NULL when
-- it is unset, empty or not a UUID: a write never fails over it.
CREATE OR REPLACE FUNCTION audit_current_actor() RETURNS uuid LANGUAGE plpgsql STABLE AS $$
DECLARE
    actor text := current_setting('audit.actor_id', true);
BEGIN
    IF actor ~* '^[0-9a-f]{{8}}-?[0-9a-f]{{4}}-?[0-9a-f]{{4}}-?[0-9a-f]{{4}}-?[0-9a-f]{{12}}$' THEN
        RETURN actor::uuid;
    END IF;
    RETURN NULL;
END
$$;

-- Arguments: the primary-key column, then the columns whose values must not be copied.
CREATE OR REPLACE FUNCTION audit_history_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    excluded text[] := TG_ARGV[1:TG_NARGS - 1];
    row_data jsonb;
    old_data jsonb;
    changed jsonb := '[]'::jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_data := to_jsonb(OLD);
    ELSE
        row_data := to_jsonb(NEW);
    END IF;
    IF TG_OP = 'UPDATE' THEN
        old_data := to_jsonb(OLD);
        SELECT coalesce(jsonb_agg(n.key ORDER BY n.key), '[]'::jsonb) INTO changed
          FROM jsonb_each(row_data) AS n
         WHERE n.value IS DISTINCT FROM old_data -> n.key;
    END IF;
    INSERT INTO {HISTORY_TABLE}
        (at, table_name, row_pk, operation, data, changed_fields, actor_id, request_id, txid)
    VALUES (
        now(), TG_TABLE_NAME, row_data ->> TG_ARGV[0], left(TG_OP, 1), row_data - excluded,
        changed, audit_current_actor(),
        left(coalesce(current_setting('audit.request_id', true), ''), 64), txid_current()
    );
    RETURN NULL;
END
$$;

-- The inserts of one statement (a statement trigger with the transition table
-- {INSERTED_ROWS}): one history row per inserted row, as audit_history_capture writes them.
-- Arguments as audit_history_capture's.
CREATE OR REPLACE FUNCTION audit_history_capture_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    excluded text[] := TG_ARGV[1:TG_NARGS - 1];
    actor uuid := audit_current_actor();
    request text := left(coalesce(current_setting('audit.request_id', true), ''), 64);
BEGIN
    INSERT INTO {HISTORY_TABLE}
        (at, table_name, row_pk, operation, data, changed_fields, actor_id, request_id, txid)
    SELECT now(), TG_TABLE_NAME, inserted.row_data ->> TG_ARGV[0], 'I',
           inserted.row_data - excluded, '[]'::jsonb, actor, request, txid_current()
      FROM (SELECT to_jsonb(n) AS row_data FROM {INSERTED_ROWS} AS n) AS inserted;
    RETURN NULL;
END
$$;
"""  # noqa: S608

PG_FUNCTIONS_DROP = """
DROP FUNCTION IF EXISTS audit_history_capture_inserts();
DROP FUNCTION IF EXISTS audit_history_capture();
DROP FUNCTION IF EXISTS audit_current_actor();
DROP FUNCTION IF EXISTS audit_refuse_truncate();
DROP FUNCTION IF EXISTS audit_append_only();
"""


def _ddl(schema_editor: BaseDatabaseSchemaEditor, sql: str) -> None:
    # No parameters: the drivers then leave '%' alone (plpgsql RAISE and strftime use it).
    schema_editor.execute(sql, None)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- Append-only guards -----------------------------------------------------------------------


def append_only_install(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    quote = schema_editor.quote_name
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _ddl(
            schema_editor,
            f"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {quote(table)} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        )
        _ddl(
            schema_editor,
            f"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {quote(table)} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()",
        )
    elif vendor == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            name = quote(f"{table}_append_only_{operation.lower()}")
            message = _literal(f"{table} is append-only: {operation} refused")
            _ddl(
                schema_editor,
                f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON {quote(table)} "
                f"BEGIN SELECT RAISE(ABORT, {message}); END",
            )


def append_only_drop(schema_editor: BaseDatabaseSchemaEditor, table: str) -> None:
    quote = schema_editor.quote_name
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in ("audit_append_only", "audit_no_truncate"):
            _ddl(schema_editor, f"DROP TRIGGER IF EXISTS {name} ON {quote(table)}")
    elif vendor == "sqlite":
        for operation in ("update", "delete"):
            _ddl(
                schema_editor, f"DROP TRIGGER IF EXISTS {quote(f'{table}_append_only_{operation}')}"
            )


# --- Row history ------------------------------------------------------------------------------

PG_HISTORY_TRIGGERS = ("audit_history", "audit_history_insert", "audit_history_no_truncate")
PG_TRIGGER_TYPE_INSERT = 1 << 2  # pg_trigger.tgtype: the trigger fires on INSERT


def _columns(model: type[models.Model]) -> list[tuple[Any, str]]:
    """(field, column) of every field stored in the model's table, in column order."""
    return [(f, f.column) for f in model._meta.concrete_fields if f.column is not None]


def _pk_column(model: type[models.Model]) -> tuple[Any, str]:
    pk = model._meta.pk
    if pk is None or pk.column is None:
        raise ValueError(f"{model._meta.label} has no primary-key column to track")
    return pk, pk.column


def excluded_columns(model: type[models.Model], exclude: Iterable[str]) -> list[str]:
    """Column names for field (or column) names; an unknown name is an error, not a silent copy."""
    by_name: dict[str, str] = {}
    for field, column in _columns(model):
        by_name[field.name] = column
        by_name[column] = column
    unknown = sorted(set(exclude) - set(by_name))
    if unknown:
        raise ValueError(f"{model._meta.label} has no field(s) {unknown} to exclude from history")
    return sorted({by_name[name] for name in exclude})


def _pg_history_install(
    schema_editor: BaseDatabaseSchemaEditor, table: str, pk: str, excluded: Sequence[str]
) -> None:
    quote = schema_editor.quote_name
    arguments = ", ".join(_literal(column) for column in (pk, *excluded))
    _ddl(
        schema_editor,
        f"CREATE TRIGGER audit_history AFTER UPDATE OR DELETE ON {quote(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION audit_history_capture({arguments})",
    )
    _ddl(
        schema_editor,
        f"CREATE TRIGGER audit_history_insert AFTER INSERT ON {quote(table)} "
        f"REFERENCING NEW TABLE AS {INSERTED_ROWS} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION audit_history_capture_inserts({arguments})",
    )
    # TRUNCATE fires no row trigger: refusing it closes the last way round the history.
    _ddl(
        schema_editor,
        f"CREATE TRIGGER audit_history_no_truncate BEFORE TRUNCATE ON {quote(table)} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()",
    )


def _pg_tables_with_row_insert_history(
    schema_editor: BaseDatabaseSchemaEditor,
) -> list[tuple[str, list[str]]]:
    """(table, trigger arguments) of every table of the current schema whose row history trigger
    still records inserts row by row (installed before inserts were recorded per statement)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgargs FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgname = 'audit_history' AND n.nspname = current_schema() "
            "AND t.tgtype & %s <> 0",
            [PG_TRIGGER_TYPE_INSERT],
        )
        rows = cursor.fetchall()
    # tgargs: the arguments, each ended by a zero byte.
    return [(table, bytes(raw).decode().split("\x00")[:-1]) for table, raw in rows]


def pg_history_per_statement(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Move every tracked table to the triggers ``history_install`` installs now (inserts
    recorded per statement). The same history rows before and after."""
    _ddl(schema_editor, PG_FUNCTIONS)
    for table, (pk, *excluded) in _pg_tables_with_row_insert_history(schema_editor):
        quote = schema_editor.quote_name
        for name in PG_HISTORY_TRIGGERS:
            _ddl(schema_editor, f"DROP TRIGGER IF EXISTS {name} ON {quote(table)}")
        _pg_history_install(schema_editor, table, pk, excluded)


def _internal_type(field: Any) -> str:
    while field.is_relation and field.target_field is not None and field.target_field is not field:
        field = field.target_field
    return str(field.get_internal_type())


def _sqlite_value(field: Any, row: str) -> str:
    """The column as JSON, in the same form PostgreSQL's to_jsonb would give where it matters."""
    column = f'{row}."{field.column}"'
    kind = _internal_type(field)
    if kind == "UUIDField":
        parts = "||'-'||".join(
            f"substr({column}, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        )
        return f"lower({parts})"
    if kind == "JSONField":
        return f"json({column})"
    if kind == "BooleanField":
        return f"json(CASE {column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)"
    return column


def _sqlite_history_sql(
    table: str, model: type[models.Model], excluded: Sequence[str]
) -> list[str]:
    columns = _columns(model)
    pk, _ = _pk_column(model)

    def row_json(row: str) -> str:
        pairs = ", ".join(
            f"{_literal(column)}, {_sqlite_value(field, row)}"
            for field, column in columns
            if column not in excluded
        )
        return f"json_object({pairs})"

    changed = " UNION ALL ".join(
        f'SELECT {_literal(column)} AS name WHERE NEW."{column}" IS NOT OLD."{column}"'
        for column in sorted(column for _, column in columns)
    )
    statements = []
    for operation, code, row in (
        ("INSERT", "I", "NEW"),
        ("UPDATE", "U", "NEW"),
        ("DELETE", "D", "OLD"),
    ):
        changed_sql = (
            f"(SELECT json_group_array(name) FROM ({changed}))"  # noqa: S608
            if operation == "UPDATE"
            else "'[]'"
        )
        name = f'"audit_history_{table}_{operation.lower()}"'
        statements.append(
            f'CREATE TRIGGER {name} AFTER {operation} ON "{table}" BEGIN '  # noqa: S608
            f"INSERT INTO {HISTORY_TABLE} "
            "(at, table_name, row_pk, operation, data, changed_fields, actor_id, request_id, txid) "
            f"VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), {_literal(table)}, "
            f"CAST({_sqlite_value(pk, row)} AS TEXT), '{code}', {row_json(row)}, {changed_sql}, "
            "audit_actor_id(), coalesce(audit_request_id(), ''), NULL); END"
        )
    return statements


def _sqlite_history_drop_sql(table: str) -> list[str]:
    return [
        f'DROP TRIGGER IF EXISTS "audit_history_{table}_{operation}"'
        for operation in ("insert", "update", "delete")
    ]


def history_install(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    exclude: Iterable[str] = (),
) -> None:
    """Install the history triggers on ``model``'s table (a historical model of a migration)."""
    connection = schema_editor.connection
    table = model._meta.db_table
    exclude = list(exclude)
    excluded = excluded_columns(model, exclude)
    if (
        not schema_editor.collect_sql
        and HISTORY_TABLE not in connection.introspection.table_names()
    ):
        raise RuntimeError(
            "The row history table does not exist yet: add ('audit', '0001_initial') to the "
            "dependencies of the migration that tracks history."
        )
    _, pk_column = _pk_column(model)
    if connection.vendor == "postgresql":
        _pg_history_install(schema_editor, table, pk_column, excluded)
    elif connection.vendor == "sqlite":
        for statement in (
            *_sqlite_history_drop_sql(table),
            *_sqlite_history_sql(table, model, excluded),
        ):
            _ddl(schema_editor, statement)
        schema_editor.execute(
            f"INSERT OR REPLACE INTO {SQLITE_TRACKING_TABLE} "  # noqa: S608
            "(table_name, app_label, model_name, exclude) VALUES (%s, %s, %s, %s)",
            (table, model._meta.app_label, model._meta.model_name, json.dumps(exclude)),
        )


def history_drop(schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> None:
    quote = schema_editor.quote_name
    table = model._meta.db_table
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in PG_HISTORY_TRIGGERS:
            _ddl(schema_editor, f"DROP TRIGGER IF EXISTS {name} ON {quote(table)}")
    elif vendor == "sqlite":
        for statement in _sqlite_history_drop_sql(table):
            _ddl(schema_editor, statement)
        schema_editor.execute(
            f"DELETE FROM {SQLITE_TRACKING_TABLE} WHERE table_name = %s",  # noqa: S608
            (table,),
        )


def sqlite_triggers_refresh(
    sender: Any, *, using: str, apps: Apps | None = None, **kwargs: Any
) -> None:
    """post_migrate: rebuild SQLite's triggers that a table rebuild may have dropped."""
    from django.db import connections

    connection: BaseDatabaseWrapper = connections[using]
    if connection.vendor != "sqlite" or apps is None or connection.in_atomic_block:
        return  # SQLite's schema editor cannot run inside a transaction
    tables = set(connection.introspection.table_names())
    if SQLITE_TRACKING_TABLE not in tables:
        return  # this app's migration has not run on this database
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT table_name, app_label, model_name, exclude FROM {SQLITE_TRACKING_TABLE}"  # noqa: S608
        )
        tracked = cursor.fetchall()
    with connection.schema_editor() as schema_editor:
        for table in APPEND_ONLY_TABLES:
            if table in tables:
                append_only_install(schema_editor, table)
        for _table, app_label, model_name, exclude in tracked:
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                continue
            if model._meta.db_table in tables:
                history_install(schema_editor, model, json.loads(exclude))
