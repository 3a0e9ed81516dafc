"""Public keys come from identity's JWKS URL, cached; a new kid is picked up after a rotation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from django.test import override_settings

from shared.auth.keys import JWKSKeyProvider
from shared.auth.tokens import InvalidToken, decode_access_token
from shared.testing.tokens import access_token, private_key


class FakeIdentity:
    """A real HTTP server publishing a key set we can change, counting the fetches."""

    def __init__(self) -> None:
        self.kids: list[str] = []
        self.fetches = 0
        self.up = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                if not outer.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                keys = []
                for kid in outer.kids:
                    jwk = json.loads(
                        jwt.algorithms.RSAAlgorithm.to_jwk(private_key(kid).public_key())
                    )
                    keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
                body = json.dumps({"keys": keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    server = FakeIdentity()
    yield server
    server.close()


@override_settings(JWKS_MIN_REFETCH_SECONDS=0)
def test_token_from_a_rotated_key_verifies_after_one_refetch(identity: FakeIdentity) -> None:
    identity.kids = ["k1"]
    provider = JWKSKeyProvider(url=identity.url)
    assert decode_access_token(access_token(kid="k1"), provider).roles == {"patient"}
    assert identity.fetches == 1

    identity.kids = ["k1", "k2"]
    decode_access_token(access_token(kid="k2"), provider)
    decode_access_token(access_token(kid="k1"), provider)
    assert identity.fetches == 2


@override_settings(JWKS_MIN_REFETCH_SECONDS=300)
def test_forged_kids_do_not_flood_identity_with_fetches(identity: FakeIdentity) -> None:
    identity.kids = ["k1"]
    provider = JWKSKeyProvider(url=identity.url)
    decode_access_token(access_token(kid="k1"), provider)
    for n in range(20):
        with pytest.raises(InvalidToken):
            decode_access_token(access_token(kid=f"forged-{n}"), provider)
    assert identity.fetches == 1


@override_settings(JWKS_MIN_REFETCH_SECONDS=0, JWKS_CACHE_SECONDS=1)
def test_known_keys_keep_working_while_identity_is_down(identity: FakeIdentity) -> None:
    identity.kids = ["k1"]
    provider = JWKSKeyProvider(url=identity.url)
    decode_access_token(access_token(kid="k1"), provider)
    identity.up = False
    with override_settings(JWKS_CACHE_SECONDS=0):
        assert decode_access_token(access_token(kid="k1"), provider).roles == {"patient"}
    assert identity.fetches >= 2


@override_settings(JWKS_MIN_REFETCH_SECONDS=0)
def test_key_withdrawn_from_the_set_stops_verifying_after_the_cache_expires(
    identity: FakeIdentity,
) -> None:
    identity.kids = ["k1", "k2"]
    provider = JWKSKeyProvider(url=identity.url)
    decode_access_token(access_token(kid="k1"), provider)
    identity.kids = ["k2"]
    with override_settings(JWKS_CACHE_SECONDS=0), pytest.raises(InvalidToken):
        decode_access_token(access_token(kid="k1"), provider)
