"""Identity's RS256 signing keys: PEM files named ``<kid>.pem`` in JWT_SIGNING_KEYS_DIR.

Keys are read lazily (never at settings import) and cached in the process. The directory is read
again after JWT_KEYS_RELOAD_SECONDS, or sooner when a token names a kid we do not hold, so a key
added by ``manage.py identity_keys --rotate`` reaches every worker without a restart. The kid
sorting last (kids made here start with a UTC timestamp) signs unless JWT_ACTIVE_KID names
another; every key in the directory is published in the JWKS so tokens signed by an older key
keep verifying until that key file is removed.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.utils import to_base64url_uint

logger = logging.getLogger(__name__)

KEY_SIZE = 2048
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A token naming an unknown kid makes us look at the directory again, at most this often.
_UNKNOWN_KID_RESCAN_SECONDS = 1.0


class SigningKeyUnavailable(ImproperlyConfigured):
    """No usable signing key: identity cannot issue tokens until one is generated."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": to_base64url_uint(numbers.n).decode("ascii"),
            "e": to_base64url_uint(numbers.e).decode("ascii"),
        }


def keys_directory() -> Path:
    return Path(settings.JWT_SIGNING_KEYS_DIR)


def _read_directory(directory: Path) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    if not directory.is_dir():
        return keys
    for path in sorted(directory.glob("*.pem")):
        kid = path.stem
        if not _KID.match(kid):
            raise SigningKeyUnavailable(
                f"Signing key file {path.name!r}: the name must be <kid>.pem with a kid of "
                "letters, digits, '.', '_' or '-'."
            )
        try:
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyUnavailable(
                f"Signing key file {path} cannot be read as an unencrypted PEM private key: "
                f"{type(exc).__name__}"
            ) from None
        if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < KEY_SIZE:
            raise SigningKeyUnavailable(
                f"Signing key file {path} must hold an RSA key of at least {KEY_SIZE} bits."
            )
        keys[kid] = SigningKey(kid=kid, private_key=private_key)
    return keys


class _KeyCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._directory: Path | None = None
        self._loaded_at = 0.0

    def keys(self, *, want_kid: str | None = None) -> dict[str, SigningKey]:
        directory = keys_directory()
        now = time.monotonic()
        with self._lock:
            stale = (
                self._directory != directory
                or now - self._loaded_at > settings.JWT_KEYS_RELOAD_SECONDS
            )
            unknown = (
                want_kid is not None
                and want_kid not in self._keys
                and now - self._loaded_at > _UNKNOWN_KID_RESCAN_SECONDS
            )
            if stale or unknown:
                self._keys = _read_directory(directory)
                self._directory = directory
                self._loaded_at = now
            return self._keys

    def reset(self) -> None:
        with self._lock:
            self._keys = {}
            self._directory = None
            self._loaded_at = 0.0


_cache = _KeyCache()


def keys_reset() -> None:
    """Forget the cached keys; the next use reads the directory again."""
    _cache.reset()


def published_keys() -> list[SigningKey]:
    keys = _cache.keys()
    return [keys[kid] for kid in sorted(keys)]


def signing_key() -> SigningKey:
    keys = _cache.keys()
    directory = keys_directory()
    if not keys:
        raise SigningKeyUnavailable(
            f"No signing key in {directory}. Create one with `python manage.py identity_keys` "
            "(or point JWT_SIGNING_KEYS_DIR at the directory that holds them)."
        )
    active = settings.JWT_ACTIVE_KID
    if active:
        if active not in keys:
            raise SigningKeyUnavailable(f"JWT_ACTIVE_KID={active!r} is not a key in {directory}.")
        return keys[active]
    return keys[max(keys)]


def public_key(kid: str) -> rsa.RSAPublicKey | None:
    key = _cache.keys(want_kid=kid).get(kid)
    return key.public_key if key is not None else None


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.jwk() for key in published_keys()]}


def key_generate(directory: Path | None = None) -> str:
    """Write a new RSA key as ``<kid>.pem`` (owner-only permissions) and return its kid.

    The kid starts with the UTC time, so a newer key sorts after every older one.
    """
    directory = directory or keys_directory()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kid = f"{stamp}-{secrets.token_hex(3)}"
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    path = directory / f"{kid}.pem"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    keys_reset()
    logger.info("signing key generated", extra={"kid": kid})
    return kid


class LocalKeyProvider:
    """The key provider of identity itself (settings.JWT_KEY_PROVIDER): no HTTP to itself."""

    def public_key(self, kid: str) -> Any | None:
        return public_key(kid)
