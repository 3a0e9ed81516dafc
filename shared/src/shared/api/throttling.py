"""Rate limits: writes per authenticated caller, and every request per client address for
anonymous callers. Answered 429 (problem type rate-limited) with Retry-After.

Fixed windows counted in the Django cache: ``cache.add(key, 0, timeout)`` starts a window's
counter and ``cache.incr`` counts, which Redis does atomically, so every web process of a service
shares one exact count however many requests arrive at once. Each window has its own key (the
window's number is part of it), and keys outlive their window, so a counter never loses its
expiry.

On the embedded default's file or memory cache, increments are not atomic across processes:
there the limits are best effort, which is enough for a machine serving one demo.

A fixed window lets a client send up to twice the rate across a window boundary; the limits are
there against floods and runaway clients, not for billing, so that is accepted.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from shared.auth.principal import TokenUser
from shared.observability.client_ip import client_ip

_PERIODS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_rate(rate: str) -> tuple[int, int]:
    """ "120/min" -> (120, 60). Periods: s, sec, second, m, min, minute, h, hour, d, day."""
    try:
        count, period = rate.split("/")
        number, seconds = int(count), _PERIODS[period.strip()]
    except (ValueError, KeyError) as exc:
        raise ValueError(f"rate {rate!r} is not '<number>/<s|min|hour|day>'") from exc
    if number < 1:
        raise ValueError(f"rate {rate!r} must allow at least one request")
    return number, seconds


class WindowThrottle(BaseThrottle):
    """A fixed-window counter per (scope, caller). Subclasses say whom a request counts against
    (``ident``, None: this throttle does not apply) and which setting holds the rate."""

    scope = ""
    rate_setting = ""
    default_rate = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def rate(self) -> tuple[int, int]:
        return parse_rate(str(getattr(settings, self.rate_setting, self.default_rate)))

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        who = self.ident(request)
        if who is None:
            return True
        limit, period = self.rate()
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{who}:{period}:{window}"
        # Twice the period: a request that read the clock just before the window ended still
        # finds the key, so incr() never recreates it without an expiry.
        cache.add(key, 0, timeout=2 * period)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add() and incr()
            cache.add(key, 0, timeout=2 * period)
            count = cache.incr(key)
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        # DRF rounds this up into Retry-After; never advertise 0 for a refusal.
        return None if self._wait is None else max(1.0, math.ceil(self._wait))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class UserWriteRateThrottle(WindowThrottle):
    """POST, PUT, PATCH and DELETE per authenticated caller (a user, or a service client)."""

    scope = "user-writes"
    rate_setting = "RATE_LIMIT_USER_WRITES"
    default_rate = "120/min"

    def ident(self, request: Request) -> str | None:
        user = request.user
        if request.method in SAFE_METHODS or not getattr(user, "is_authenticated", False):
            return None
        if isinstance(user, TokenUser):
            return str(user.id)
        return f"session-{user.pk}"


class AnonRateThrottle(WindowThrottle):
    """Every request of a caller without an access token, per client address."""

    scope = "anon"
    rate_setting = "RATE_LIMIT_ANON"
    default_rate = "300/min"

    def ident(self, request: Request) -> str | None:
        if getattr(request.user, "is_authenticated", False):
            return None
        # A hash: the cache holds no client addresses.
        return _digest(client_ip(request))
