"""Brute-force limits kept as counters in the cache (Redis when deployed, so every worker shares
them). A counter counts failures within a window; reaching its limit sets a lock that expires on
its own. Keys hold a hash, never an e-mail address.

The client address comes from shared.observability.client_ip, which believes X-Forwarded-For
only from our own proxies: a forged header can neither dodge a lock nor lock someone else out.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    name: str
    max_failures: int
    window_seconds: int
    lock_seconds: int


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _keys(limit: Limit, subject: str) -> tuple[str, str]:
    return f"lockout:{limit.name}:n:{subject}", f"lockout:{limit.name}:lock:{subject}"


def _retry_after(limit: Limit, subject: str) -> int:
    _, lock_key = _keys(limit, subject)
    until = cache.get(lock_key)
    if until is None:
        return 0
    return max(1, math.ceil(float(until) - time.time()))


def _fail(limit: Limit, subject: str) -> bool:
    """Count a failure; True when this one reached the limit and set the lock."""
    count_key, lock_key = _keys(limit, subject)
    # add() starts the window only for the first failure; incr() is atomic in Redis.
    cache.add(count_key, 0, timeout=limit.window_seconds)
    try:
        count = cache.incr(count_key)
    except ValueError:  # the window ran out between add() and incr()
        cache.add(count_key, 0, timeout=limit.window_seconds)
        count = cache.incr(count_key)
    if count >= limit.max_failures:
        cache.set(lock_key, time.time() + limit.lock_seconds, timeout=limit.lock_seconds)
        cache.delete(count_key)
        return True
    return False


def _clear(limit: Limit, subject: str) -> None:
    count_key, _ = _keys(limit, subject)
    cache.delete(count_key)


def _login_pair() -> Limit:
    return Limit(
        "login-pair",
        settings.LOGIN_FAILURES_PER_ACCOUNT,
        settings.LOGIN_FAILURE_WINDOW_SECONDS,
        settings.LOGIN_LOCKOUT_SECONDS,
    )


def _login_address() -> Limit:
    return Limit(
        "login-addr",
        settings.LOGIN_FAILURES_PER_ADDRESS,
        settings.LOGIN_FAILURE_WINDOW_SECONDS,
        settings.LOGIN_LOCKOUT_SECONDS,
    )


def _code_address() -> Limit:
    # Invitation and password-reset codes share one budget per address: a guesser gets no
    # second allowance by switching between them.
    return Limit(
        "code-addr",
        settings.INVITATION_ACCEPT_FAILURES_PER_ADDRESS,
        settings.LOGIN_FAILURE_WINDOW_SECONDS,
        settings.LOGIN_LOCKOUT_SECONDS,
    )


def login_retry_after(*, email: str, address: str) -> int:
    """Seconds until this account may be tried again from this address; 0 when not locked."""
    return max(
        _retry_after(_login_pair(), _digest(email, address)),
        _retry_after(_login_address(), _digest(address)),
    )


def login_failure_record(*, email: str, address: str) -> bool:
    """Count a failed login; True when it locked the account for this address (or the address)."""
    pair_locked = _fail(_login_pair(), _digest(email, address))
    address_locked = _fail(_login_address(), _digest(address))
    return pair_locked or address_locked


def login_success_record(*, email: str, address: str) -> None:
    # Only the pair's count: the address count also holds failures against other accounts.
    _clear(_login_pair(), _digest(email, address))


def code_retry_after(*, address: str) -> int:
    """Seconds until this address may present an invitation or reset code again."""
    return _retry_after(_code_address(), _digest(address))


def code_failure_record(*, address: str) -> bool:
    """Count an invalid or spent code; True when it locked the address."""
    return _fail(_code_address(), _digest(address))


def _service_pair() -> Limit:
    return Limit(
        "service-pair",
        settings.LOGIN_FAILURES_PER_ACCOUNT,
        settings.LOGIN_FAILURE_WINDOW_SECONDS,
        settings.LOGIN_LOCKOUT_SECONDS,
    )


# A service client's secret is guessed like a password: the same limits, and the same per-address
# count as sign-ins, so one address cannot try both at double the rate.


def service_token_retry_after(*, client_id: str, address: str) -> int:
    return max(
        _retry_after(_service_pair(), _digest(client_id, address)),
        _retry_after(_login_address(), _digest(address)),
    )


def service_token_failure_record(*, client_id: str, address: str) -> bool:
    pair_locked = _fail(_service_pair(), _digest(client_id, address))
    address_locked = _fail(_login_address(), _digest(address))
    return pair_locked or address_locked


def service_token_success_record(*, client_id: str, address: str) -> None:
    _clear(_service_pair(), _digest(client_id, address))
