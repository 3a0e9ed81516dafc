"""Typed reading of settings from the environment.

Every value may also come from a file named by ``<NAME>_FILE`` (Docker and Kubernetes secrets).
A missing or malformed value stops start-up with a message that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name)


def _read(name: str, default: Any, parse: Callable[[str], T], kind: str) -> T:
    raw = _raw(name)
    if raw is None or raw == "":
        if default is REQUIRED:
            raise ImproperlyConfigured(f"The environment variable {name} is required ({kind}).")
        return cast(T, default)
    try:
        return parse(raw)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {kind}: {exc}") from exc


def env_str(name: str, default: Any = REQUIRED) -> str:
    return _read(name, default, str, "string")


def env_int(name: str, default: Any = REQUIRED, *, minimum: int | None = None) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return _read(name, default, parse, "integer")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: Any = REQUIRED) -> bool:
    def parse(raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected one of 1/0, true/false, yes/no, on/off")

    return _read(name, default, parse, "boolean")


def env_list(name: str, default: Any = REQUIRED) -> list[str]:
    return _read(
        name, default, lambda raw: [p.strip() for p in raw.split(",") if p.strip()], "list"
    )


def env_url(name: str, default: Any = REQUIRED, *, schemes: tuple[str, ...] = ()) -> str:
    def parse(raw: str) -> str:
        parsed = urlparse(raw)
        if not parsed.scheme:
            raise ValueError("missing scheme")
        if schemes and parsed.scheme not in schemes:
            raise ValueError(f"scheme must be one of {', '.join(schemes)}")
        return raw

    return _read(name, default, parse, "URL")


def env_database(name: str = "DATABASE_URL", default: Any = REQUIRED) -> dict[str, Any]:
    """A Django DATABASES entry from a URL (postgres://… or sqlite:///path)."""

    def parse(raw: str) -> dict[str, Any]:
        if urlparse(raw).scheme not in {"postgres", "postgresql", "sqlite"}:
            raise ValueError("only postgres:// and sqlite:/// URLs are supported")
        config: dict[str, Any] = dict(dj_database_url.parse(raw, conn_max_age=60))
        config["ATOMIC_REQUESTS"] = False
        if config["ENGINE"].endswith("sqlite3"):
            # Several processes share each SQLite file in the embedded default: wait, don't fail.
            config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
            config["CONN_MAX_AGE"] = 0
        return config

    return _read(name, default, parse, "database URL")


def env_cache(name: str = "CACHE_URL", default: Any = REQUIRED) -> dict[str, Any]:
    """A Django CACHES entry from redis://host:port/db, file:///dir or locmem://."""

    def parse(raw: str) -> dict[str, Any]:
        parsed = urlparse(raw)
        if parsed.scheme in {"redis", "rediss"}:
            return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": raw}
        if parsed.scheme == "file":
            return {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": parsed.path,
            }
        if parsed.scheme == "locmem":
            return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        raise ValueError("expected redis://, rediss://, file:// or locmem://")

    return _read(name, default, parse, "cache URL")
