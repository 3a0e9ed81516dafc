"""How far behind this service's outbox is: for the engineer on call, and for a probe.

manage.py outbox_status                      # readable summary
manage.py outbox_status --json               # one JSON object
manage.py outbox_status --max-age 300        # exits 2 if an event has waited over 5 minutes
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shared.outbox.selectors import outbox_status


class Command(BaseCommand):
    help = "Pending outbox events, the age of the oldest, and failed publish attempts."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--max-age",
            type=int,
            metavar="SECONDS",
            help="exit with status 2 if the oldest pending event is older than this",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        status = outbox_status(using=options["database"])
        age = status.oldest_pending_age.total_seconds() if status.oldest_pending_age else None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "pending": status.pending,
                        "oldest_pending_at": (
                            status.oldest_pending_at.isoformat()
                            if status.oldest_pending_at
                            else None
                        ),
                        "oldest_pending_age_seconds": round(age, 1) if age is not None else None,
                        "failing": status.failing,
                        "max_attempts": status.max_attempts,
                        "last_error": status.last_error,
                    }
                )
            )
        else:
            self.stdout.write(f"pending events:       {status.pending}")
            oldest = "-"
            if status.oldest_pending_at is not None and age is not None:
                oldest = f"{age:.0f} s (since {status.oldest_pending_at:%Y-%m-%d %H:%M:%S} UTC)"
            self.stdout.write(f"oldest pending:       {oldest}")
            self.stdout.write(f"failing (attempts>0): {status.failing}")
            self.stdout.write(f"most attempts:        {status.max_attempts}")
            if status.last_error:
                self.stdout.write(f"last error:           {status.last_error}")
        max_age = options["max_age"]
        if max_age is not None and age is not None and age > max_age:
            raise CommandError(f"the oldest pending event is {age:.0f} s old", returncode=2)
