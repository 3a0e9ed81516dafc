"""Inserts into tracked tables are recorded by a statement trigger (see shared.audit.triggers):
tables tracked before are moved to it. The history rows are the same."""

from django.db import migrations

from shared.audit import triggers


def per_statement(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        triggers.pg_history_per_statement(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        # Backwards there is nothing to undo: the history rows do not change.
        migrations.RunPython(per_statement, migrations.RunPython.noop, elidable=True),
    ]
