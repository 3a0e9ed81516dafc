from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

NAME = "diary_server_seq"


def create_sequence(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {NAME} AS bigint START 1")
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TABLE IF NOT EXISTS {NAME} "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), last_value INTEGER NOT NULL)"
        )
        schema_editor.execute(f"INSERT OR IGNORE INTO {NAME} (id, last_value) VALUES (1, 0)")
    else:
        raise NotImplementedError(f"no server sequence for the {vendor} database")


def drop_sequence(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {NAME}")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {NAME}")


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(create_sequence, drop_sequence)]
