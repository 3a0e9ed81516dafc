import hashlib

from django.db import migrations, models

ATTRIBUTES = (
    "site", "laterality", "solution", "guidance", "protocol", "diagnosis", "sex", "age_band",
)


def _key(values):
    # The same key as outcomes.readmodel.derive.cohort_key computes for new rows.
    digest = hashlib.blake2b("\x1f".join(values).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def fill_keys(apps, schema_editor):
    """One UPDATE joining each row to its combination's key: a single pass over the table.
    (A UNION of one-row SELECTs: SQLite has no column list for a VALUES alias.)"""
    quote = schema_editor.quote_name
    names = [quote(f"v_{column}") for column in (*ATTRIBUTES, "key")]
    for name in ("Course", "ResyncCourse"):
        model = apps.get_model("readmodel", name)
        combinations = list(model.objects.values_list(*ATTRIBUTES).distinct())
        table = quote(model._meta.db_table)
        matches = " AND ".join(
            f"{table}.{quote(column)} = v.{quote(f'v_{column}')}" for column in ATTRIBUTES
        )
        row = "SELECT " + ", ".join(f"%s AS {column}" for column in names)
        for start in range(0, len(combinations), 400):
            batch = combinations[start : start + 400]
            params = [value for values in batch for value in (*values, _key(values))]
            schema_editor.execute(
                f"UPDATE {table} SET {quote('cohort_key')} = v.{names[-1]} "
                f"FROM ({' UNION ALL '.join([row] * len(batch))}) AS v WHERE {matches}",
                params,
            )


class Migration(migrations.Migration):

    dependencies = [
        ('readmodel', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='course',
            name='cohort_key',
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='resynccourse',
            name='cohort_key',
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
    ]
