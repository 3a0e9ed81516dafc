"""The bench server's token keys: the public half of the key the load generator signs with."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from shared.testing.tokens import TEST_KID

PUBLIC_KEY_ENV = "BENCH_JWT_PUBLIC_KEY_FILE"


class FileKeyProvider:
    """Knows one public key, read from the PEM file the benchmark wrote before starting us."""

    @cached_property
    def _key(self) -> Any:
        with open(os.environ[PUBLIC_KEY_ENV], "rb") as pem:
            return load_pem_public_key(pem.read())

    def public_key(self, kid: str) -> Any | None:
        return self._key if kid == TEST_KID else None
