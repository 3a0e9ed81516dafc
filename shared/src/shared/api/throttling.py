"""Rate limits: writes per authenticated caller, and every request per client address for
anonymous callers. Answered 429 (problem type rate-limited) with Retry-After.

Fixed windows counted in the Django cache. On Redis one small script per request counts and
starts the window's expiry (``INCR``, then ``EXPIRE`` when the count is 1), atomically and in one
round trip, so every web process of a service shares one exact count however many requests arrive
at once. Each window has its own key (the window's number is part of it), and keys outlive their
window, so a counter never loses its expiry.

On the embedded default's file or memory cache, ``cache.add(key, 0, timeout)`` starts a window's
counter and ``cache.incr`` counts; increments there are not atomic across processes, so the
limits are best effort, which is enough for a machine serving one demo.

A fixed window lets a client send up to twice the rate across a window boundary; the limits are
there against floods and runaway clients, not for billing, so that is accepted.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
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

# KEYS[1]: the window's counter; ARGV[1]: its lifetime in seconds. Redis runs a script alone, so
# the count and the expiry of a new window cannot be separated by another client.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class _RedisCounter(threading.local):
    """This thread's own connection to the cache's Redis (taken from its pool and kept: one
    round trip per request, without the client's per-command machinery), for the cache client
    it was taken from."""

    source: Any = None
    connection: Any = None
    sha: str = ""

    def count(self, backend: RedisCache, key: str, lifetime: int) -> int:
        source = backend._cache
        if self.source is not source:
            client = source.get_client(key, write=True)
            self.connection = client.connection_pool.get_connection()
            self.sha = hashlib.sha1(_COUNT_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts so
            self.source = source
        full_key = backend.make_and_validate_key(key)
        for attempt in range(2):
            try:
                return self._evalsha(full_key, lifetime)
            except (redis.ConnectionError, redis.TimeoutError):
                # A stale socket (Redis restarted): once more on a new one.
                self.connection.disconnect()
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _evalsha(self, key: str, lifetime: int) -> int:
        connection = self.connection
        connection.send_command("EVALSHA", self.sha, 1, key, lifetime)
        try:
            return int(connection.read_response())
        except redis.exceptions.NoScriptError:
            # Not loaded yet on this server (or flushed): load it, then count.
            connection.send_command("SCRIPT", "LOAD", _COUNT_SCRIPT)
            connection.read_response()
            connection.send_command("EVALSHA", self.sha, 1, key, lifetime)
            return int(connection.read_response())


_redis_counter = _RedisCounter()


def window_count(key: str, lifetime: int) -> int:
    """Count one request in the window ``key`` (created with ``lifetime`` seconds to live);
    return the window's count including it."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return _redis_counter.count(backend, key, lifetime)
    cache.add(key, 0, timeout=lifetime)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add() and incr()
        cache.add(key, 0, timeout=lifetime)
        return int(cache.incr(key))


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
        # finds the key, so it is never recreated without an expiry.
        count = window_count(key, 2 * period)
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
