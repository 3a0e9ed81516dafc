"""Bring one service's database and files up to date, in one process (Django starts once).

Usage: DJANGO_SETTINGS_MODULE=<service>.settings python prepare.py <service> <step> [<step> ...]
Steps, in the order given: migrate, collectstatic, keys (identity's signing key), seed (identity's
demo clinic). Every step is safe to repeat.
"""

from __future__ import annotations

import io
import os
import sys
import time

import django
from django.core.management import call_command, get_commands
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate() -> str:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", interactive=False, verbosity=0)
    if connection.vendor == "sqlite":
        # Write-ahead logging lets readers carry on while one process writes. The mode is stored
        # in the database file, so every process that opens it later gets it too.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    return f"{len(pending)} migrations applied" if pending else "database up to date"


def collectstatic() -> str:
    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def _identity_command(name: str) -> str:
    if name not in get_commands():
        raise SystemExit(f"{name} is not a command of this service: run it for identity")
    out = io.StringIO()
    call_command(name, stdout=out)
    return out.getvalue().strip()


def keys() -> str:
    return _identity_command("identity_keys")


def seed() -> str:
    return _identity_command("seed_demo")


STEPS = {"migrate": migrate, "collectstatic": collectstatic, "keys": keys, "seed": seed}


def main(argv: list[str]) -> None:
    service, steps = argv[0], argv[1:]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise SystemExit(f"unknown step(s): {', '.join(unknown)}; known: {', '.join(STEPS)}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{service}.settings")
    django.setup()
    for step in steps:
        started = time.monotonic()
        result = STEPS[step]()
        print(f"{step}: {result} ({time.monotonic() - started:.1f}s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
