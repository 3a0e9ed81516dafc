from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from identity.authn.keys import (
    key_generate,
    keys_directory,
    keys_reset,
    published_keys,
    signing_key,
)


class Command(BaseCommand):
    help = (
        "Create identity's first token-signing key in JWT_SIGNING_KEYS_DIR, or with --rotate add "
        "a newer one (which signs from then on; older keys stay published). Prints key ids only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rotate", action="store_true", help="Add a new signing key even if one exists."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keys_reset()
        directory = keys_directory()
        existing = published_keys()
        if existing and not options["rotate"]:
            self.stdout.write(
                f"signing key present in {directory}; active kid: {signing_key().kid}"
            )
            return
        kid = key_generate(directory)
        self.stdout.write(f"new signing key in {directory}; kid: {kid}")
        if existing:
            self.stdout.write(f"still published: {', '.join(key.kid for key in existing)}")
