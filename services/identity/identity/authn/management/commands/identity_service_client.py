"""Create a service client or give it a new secret; the secret is printed once, here only."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity.authn.models import ServiceClient
from identity.authn.service_clients import service_client_deactivate, service_client_rotate


class Command(BaseCommand):
    help = (
        "Create the service client NAME, or rotate its secret (the old one stops working at "
        "once), and print SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET for the calling service. "
        "With --deactivate, refuse the client any new token instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the calling service, e.g. outcomes")
        parser.add_argument("--deactivate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if options["deactivate"]:
            try:
                service_client_deactivate(name=name)
            except ServiceClient.DoesNotExist:
                raise CommandError(f"No service client named {name!r}.") from None
            self.stdout.write(f"Service client {name!r} deactivated: it gets no new tokens.")
            return
        existed = ServiceClient.objects.filter(name=name).exists()
        try:
            client, secret = service_client_rotate(name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        done = "secret rotated (the previous one no longer works)" if existed else "created"
        self.stdout.write(f"Service client {name!r} {done}.")
        self.stdout.write(f"SERVICE_CLIENT_ID={client.id}")
        self.stdout.write(f"SERVICE_CLIENT_SECRET={secret}")
        self.stdout.write(
            "The secret is shown only this once: give it to the calling service now "
            "(SERVICE_CLIENT_SECRET, or a file named by SERVICE_CLIENT_SECRET_FILE)."
        )
