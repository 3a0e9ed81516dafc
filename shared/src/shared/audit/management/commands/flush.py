"""Django's flush, aware of the audit tables.

flush empties every table with one TRUNCATE on PostgreSQL. The audit trail, the row history and
every tracked table refuse TRUNCATE, so on a live database the whole flush fails and nothing is
lost. Django's test framework empties the tables between transactional tests with this same
command; while a test run is in progress (its test environment set up), the guard is lifted for
the flush's own transaction only.
"""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.management.commands import flush
from django.db import connections, transaction

from shared.audit.triggers import ALLOW_TRUNCATE_SETTING


def _test_run() -> bool:
    # setup_test_environment() installs the in-memory mail outbox; nothing else in a deployed
    # service does.
    return hasattr(mail, "outbox")


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        database = options["database"]
        connection = connections[database]
        if connection.vendor != "postgresql" or not _test_run():
            super().handle(**options)
            return
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [ALLOW_TRUNCATE_SETTING])
            super().handle(**options)
