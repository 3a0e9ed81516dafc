"""Every write to this table leaves a history row, made by a database trigger so that no code
path (a bulk update, raw SQL, a management shell) can change diary data without a trace."""

from django.db import migrations

from shared.audit.operations import TrackHistory


class Migration(migrations.Migration):
    dependencies = [
        ("entries", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [
        # The note is free text the patient wrote: history records that it changed, never what it said.
        TrackHistory("painentry", exclude=["note"]),
    ]
