"""What local access-token verification costs every authenticated request (no call to identity).

Prints verifications per second and p50/p99 latency with the public key cached, which is the
state of every request but the first after a key rotation.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sharedtest.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

import django

django.setup()

from shared.auth.tokens import decode_access_token  # noqa: E402
from shared.testing.tokens import TestKeyProvider, access_token  # noqa: E402

N = 5000


def main() -> None:
    provider = TestKeyProvider()
    tokens = [access_token(roles=("patient",)) for _ in range(200)]
    decode_access_token(tokens[0], provider)
    samples = []
    started = time.perf_counter()
    for i in range(N):
        t0 = time.perf_counter()
        decode_access_token(tokens[i % len(tokens)], provider)
        samples.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    samples.sort()
    print(f"{'measure':<32}{'value':>12}")
    print(f"{'verifications':<32}{N:>12}")
    print(f"{'verifications / s (1 core)':<32}{N / elapsed:>12.0f}")
    print(f"{'p50 latency (µs)':<32}{statistics.median(samples) * 1e6:>12.1f}")
    print(f"{'p99 latency (µs)':<32}{samples[int(N * 0.99)] * 1e6:>12.1f}")


if __name__ == "__main__":
    main()
