"""Send published events again, to every subscriber (each skips what it has already handled).

manage.py outbox_republish 5b0c...-... 9e1f...-...
manage.py outbox_republish --since 2026-11-21T08:00:00Z --type diary.entry.logged
"""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shared.events.catalogue import UnknownEventType, event_type
from shared.outbox.services import outbox_republish


class Command(BaseCommand):
    help = "Mark published outbox events pending again so the relay re-sends them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("event_ids", nargs="*", type=uuid.UUID, metavar="EVENT_ID")
        parser.add_argument(
            "--since",
            type=datetime.fromisoformat,
            metavar="ISO_DATETIME",
            help="every event created at or after this instant (with a UTC offset)",
        )
        parser.add_argument("--type", dest="event_type", help="only events of this type")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        since: datetime | None = options["since"]
        if since is not None and since.tzinfo is None:
            raise CommandError("--since needs a UTC offset, e.g. 2026-11-21T08:00:00Z")
        if options["event_type"]:
            try:
                event_type(options["event_type"])
            except UnknownEventType as exc:
                raise CommandError(str(exc)) from exc
        if not options["event_ids"] and since is None:
            raise CommandError("name event ids, or --since")
        count = outbox_republish(
            event_ids=options["event_ids"] or None,
            since=since,
            type=options["event_type"],
            using=options["database"],
        )
        self.stdout.write(f"{count} event(s) queued to be published again")
