"""Rebuild the diary part of the read model from diary's internal export, then swap it in.

    manage.py outcomes_resync [--page-size 1000]

Needs this service's credentials (SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET) and DIARY_URL.
Safe to run while events are being handled; safe to run again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomes.readmodel.resync import ResyncError, resync_from_diary
from shared.auth.service_client import ServiceTokenError, service_session


class Command(BaseCommand):
    help = "Rebuild the read model from diary's export and swap it in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--page-size",
            type=int,
            default=settings.DIARY_EXPORT_PAGE_SIZE,
            help="Changes asked for per request.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            session = service_session(settings.DIARY_URL)
        except ImproperlyConfigured as exc:  # deployed before the service client was created
            raise CommandError(str(exc)) from exc
        try:
            result = resync_from_diary(session=session, page_size=options["page_size"])
        except (ResyncError, ServiceTokenError) as exc:
            raise CommandError(f"resync failed, the read model is unchanged: {exc}") from exc
        self.stdout.write(
            f"read model rebuilt: {result.changes} changes up to {result.last_seq}, "
            f"{result.patients} patients, {result.carried_over} newer rows carried over"
        )
