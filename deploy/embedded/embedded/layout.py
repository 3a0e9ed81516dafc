"""The var/ folder of the embedded default and the environment that points the services at it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from embedded.stack import SERVICES, Service


@dataclass(frozen=True)
class Layout:
    """var/db/<service>.sqlite3, var/broker (queue files), var/cache/<service>, var/keys
    (identity's signing keys), var/static/<service>, var/celery (beat schedules), var/prepared
    (what the last prepare of each service saw), var/secret_key, var/demo (when the demo's
    history ends, and whether it has been loaded)."""

    root: Path

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def secret_key_file(self) -> Path:
        return self.root / "secret_key"

    def database(self, service: str) -> Path:
        return self.root / "db" / f"{service}.sqlite3"

    def cache(self, service: str) -> Path:
        return self.root / "cache" / service

    def static(self, service: str) -> Path:
        return self.root / "static" / service

    def beat_schedule(self, service: str) -> Path:
        return self.root / "celery" / f"{service}-beat-schedule"

    def prepared_stamp(self, service: str) -> Path:
        return self.root / "prepared" / service

    def is_prepared(self, service: str, digest: str) -> bool:
        """Whether the last successful prepare of ``service`` saw these same inputs and its
        database is still there (delete a database file and it is made again)."""
        stamp = self.prepared_stamp(service)
        return (
            stamp.is_file()
            and stamp.read_text(encoding="utf-8") == digest
            and self.database(service).is_file()
            and (service != "identity" or any(self.keys.glob("*.pem")))
        )

    def mark_prepared(self, service: str, digest: str) -> None:
        self.prepared_stamp(service).write_text(digest, encoding="utf-8")

    @property
    def demo_anchor(self) -> Path:
        """When the demo's history ends, fixed by the first load: a load that was stopped
        carries on with the same story."""
        return self.root / "demo" / "story-ends-at"

    @property
    def demo_loaded(self) -> Path:
        """Written once the demo's history is in every service (what was loaded, and when)."""
        return self.root / "demo" / "loaded"

    def create(self) -> None:
        folders = (self.root / "db", self.broker, self.root / "celery", self.root / "prepared")
        for folder in (*folders, self.root / "demo"):
            folder.mkdir(parents=True, exist_ok=True)
        self.keys.mkdir(mode=0o700, parents=True, exist_ok=True)
        for service in SERVICES:
            self.cache(service).mkdir(parents=True, exist_ok=True)
            self.static(service).mkdir(parents=True, exist_ok=True)

    def secret_key(self) -> str:
        """Generated on the first run and kept, so sessions survive a restart."""
        if self.secret_key_file.is_file():
            key = self.secret_key_file.read_text(encoding="utf-8").strip()
            if key:
                return key
        key = secrets.token_urlsafe(50)
        # Written aside and renamed into place: a run stopped halfway leaves no empty key.
        partial = self.secret_key_file.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key + "\n")
        os.replace(partial, self.secret_key_file)
        return key


# The reminders admin's schedule templates, where a clinic administrator configures them.
SCHEDULES_PATH = "/admin/reminders/schedules/scheduletemplate/"


def environments(
    layout: Layout, services: list[Service], inherited: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Each service's environment: the inherited one with the embedded values on top, so a
    DATABASE_URL (or DATABASE_URL_FILE) left over from running the tests cannot leak in."""
    identity = next(s for s in services if s.name == "identity")
    by_name = {s.name: s for s in services}
    reminders = by_name.get("reminders")
    schedules = {"DASHBOARD_SCHEDULES_URL": f"{reminders.url}{SCHEDULES_PATH}"} if reminders else {}
    common = {
        "DJANGO_SECRET_KEY": layout.secret_key(),
        # Only ever bound to 127.0.0.1; set DJANGO_DEBUG=true for Django's error pages.
        "DJANGO_DEBUG": inherited.get("DJANGO_DEBUG", "false"),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXIES": "",
        "IDENTITY_URL": identity.url,
        "JWKS_URL": f"{identity.api}.well-known/jwks.json",
        # Outcomes reads the diary (resync, the dashboard) and reminders (the dashboard).
        **{
            f"{name.upper()}_URL": by_name[name].url
            for name in ("diary", "reminders")
            if name in by_name
        },
        # The dashboard links a clinic administrator to the schedules in reminders' own admin.
        **schedules,
        # A host name keeps kombu from warning about its absence on every connection.
        "BROKER_URL": "filesystem://localhost/",
        "BROKER_FILESYSTEM_DIR": str(layout.broker),
        "JWT_SIGNING_KEYS_DIR": str(layout.keys),
        "LOG_LEVEL": inherited.get("LOG_LEVEL", "INFO"),
        # The demo replays months of a clinic in minutes: a clinician records hundreds of
        # injections, and hundreds of phones sign in from this one address. Limits sized for
        # real people would stretch that to a quarter of an hour (docs/adr/0014).
        "RATE_LIMIT_USER_WRITES": inherited.get("RATE_LIMIT_USER_WRITES", "6000/min"),
        "RATE_LIMIT_ANON": inherited.get("RATE_LIMIT_ANON", "6000/min"),
    }
    out = {}
    for service in services:
        values = {
            **common,
            "DATABASE_URL": f"sqlite:///{layout.database(service.name)}",
            "CACHE_URL": f"file://{layout.cache(service.name)}",
            "STATIC_ROOT": str(layout.static(service.name)),
            "DJANGO_SETTINGS_MODULE": f"{service.name}.settings",
            "PYTHONUNBUFFERED": "1",
        }
        env = {k: v for k, v in inherited.items() if k.removesuffix("_FILE") not in values}
        env.update(values)
        out[service.name] = env
    return out
