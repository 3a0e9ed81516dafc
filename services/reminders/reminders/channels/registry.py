"""The channel instances of this process, by name, built from settings.REMINDERS_CHANNELS."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from reminders.channels.base import Channel

REAL_CHANNELS = ("push", "sms", "email")


@lru_cache(maxsize=32)
def _build(name: str, path: str) -> Channel:
    channel: Channel = import_string(path)(name)
    return channel


def channel(name: str) -> Channel | None:
    path = settings.REMINDERS_CHANNELS.get(name)
    return _build(name, path) if path else None


def nothing_configured() -> bool:
    """No push, SMS or e-mail is set up on this deployment (the embedded default)."""
    for name in REAL_CHANNELS:
        candidate = channel(name)
        if candidate is not None and candidate.available():
            return False
    return True
