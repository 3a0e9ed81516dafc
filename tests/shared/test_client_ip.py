"""X-Forwarded-For is believed only as far as our own gateway wrote it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from shared.observability.client_ip import client_ip


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        # No trusted proxy configured: the header is ignored entirely.
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),
        # Direct client claiming to be someone else: not from our gateway, ignored.
        ("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.9"),
        # Through our gateway: the address the gateway appended.
        ("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # Spoofed first hop in front of the real one: the real (rightmost untrusted) wins.
        ("10.0.0.5", "192.0.2.66, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # Two of our own proxies in a row are skipped.
        ("10.0.0.5", "198.51.100.1, 10.0.0.7", ["10.0.0.0/8"], "198.51.100.1"),
        # Garbage where an address should be: fall back to the peer.
        ("10.0.0.5", "not-an-ip", ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.5", "", ["10.0.0.0/8"], "10.0.0.5"),
    ],
)
def test_client_address(remote: str, forwarded: str, trusted: list[str], expected: str) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXIES=trusted):
        assert client_ip(request) == expected
