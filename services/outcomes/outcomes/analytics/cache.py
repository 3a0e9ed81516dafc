"""Cached cohort results, retired by a per-clinic version that every change of the clinic's data
bumps.

A result is stored under (clinic, version, analysis, filters). The event handlers bump the
version of each clinic an event touched once its transaction has committed, so a reader that
read the version before loading data can never store old data under a new version. Nothing is
deleted: retired entries simply expire.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

_PREFIX = "outcomes:v1"


def _version_key(clinic_id: uuid.UUID) -> str:
    return f"{_PREFIX}:clinic-version:{clinic_id}"


def clinic_version(clinic_id: uuid.UUID) -> int:
    """The clinic's current data version (created on first use)."""
    key = _version_key(clinic_id)
    version = cache.get(key)
    if version is None:
        # A fresh start (or a flushed cache) must never reuse a number an old result is under.
        cache.add(key, time.time_ns(), timeout=None)
        version = cache.get(key)
    return int(version)


def clinic_version_bump(clinic_id: uuid.UUID) -> int:
    key = _version_key(clinic_id)
    try:
        return int(cache.incr(key))
    except ValueError:
        cache.add(key, time.time_ns(), timeout=None)
        return int(cache.get(key))


def clinic_versions_bump_on_commit(clinic_ids: Iterable[uuid.UUID]) -> None:
    """Bump each clinic's version once the current transaction commits."""
    for clinic_id in set(clinic_ids):
        transaction.on_commit(functools.partial(clinic_version_bump, clinic_id))


def _result_key(clinic_id: uuid.UUID, version: int, analysis: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(
        json.dumps(params, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()[:32]
    return f"{_PREFIX}:result:{clinic_id}:{version}:{analysis}:{digest}"


def cached_result(
    *,
    clinic_id: uuid.UUID,
    analysis: str,
    params: dict[str, Any],
    compute: Callable[[int], tuple[dict[str, Any], int]],
    stale_seconds: int = 0,
) -> dict[str, Any]:
    """The result of ``compute(version)`` for these parameters, from the cache when it can be.

    ``compute`` returns the result and the number of courses behind it; results of cohorts
    smaller than OUTCOMES_CACHE_MIN_COURSES are not stored (cheap, and always fresh).
    With ``stale_seconds``, a result computed for an older version that long ago at most is
    good enough (the phone's typical band: a busy clinic's version changes every few seconds).
    """
    version = clinic_version(clinic_id)
    key = _result_key(clinic_id, version, analysis, params)
    hit = cache.get(key)
    if hit is not None:
        return dict(hit)
    latest_key = _result_key(clinic_id, 0, f"{analysis}:latest", params)
    if stale_seconds:
        recent = cache.get(latest_key)
        if recent is not None:
            return dict(recent)
    result, courses = compute(version)
    if courses >= settings.OUTCOMES_CACHE_MIN_COURSES:
        cache.set(key, result, timeout=settings.OUTCOMES_CACHE_SECONDS)
        if stale_seconds:
            cache.set(latest_key, result, timeout=stale_seconds)
    return result
