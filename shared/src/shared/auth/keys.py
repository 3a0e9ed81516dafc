"""Public keys fetched from identity's JWKS URL and cached in the process.

A token whose ``kid`` is not in the cached set triggers one refetch (identity rotated its key),
rate-limited so a flood of forged kids cannot turn into a flood of requests to identity.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from django.conf import settings
from jwt import PyJWK

logger = logging.getLogger(__name__)


class JWKSKeyProvider:
    def __init__(self, url: str | None = None, timeout: float = 3.0) -> None:
        self.url = url or settings.JWKS_URL
        self.timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._attempted_at = 0.0
        self._lock = threading.Lock()

    def public_key(self, kid: str) -> Any | None:
        now = time.monotonic()
        with self._lock:
            stale = now - self._fetched_at > settings.JWKS_CACHE_SECONDS
            unknown = kid not in self._keys
            may_refetch = now - self._attempted_at >= settings.JWKS_MIN_REFETCH_SECONDS
            if stale or (unknown and may_refetch):
                self._refresh(now)
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            keys = {}
            for jwk in response.json().get("keys", []):
                if jwk.get("kty") == "RSA" and jwk.get("kid"):
                    keys[jwk["kid"]] = PyJWK(jwk, algorithm="RS256").key
        except (requests.RequestException, ValueError, KeyError) as exc:
            # Keep serving with the keys we have; tokens from an unknown key are refused.
            logger.warning("jwks fetch failed", extra={"url": self.url, "error": str(exc)})
            return
        self._keys = keys
        self._fetched_at = now
